"""Training parameters: defaults, validation, and the resolved view written to run_info.json."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from . import TrainerInputError


@dataclass(frozen=True)
class Params:
    epochs: int = 4
    batch_size: int = 128
    learning_rate: float = 0.004
    weight_decay: float = 0.0001
    seed: int = 42
    # Fraction of each class's train images held out (stratified, seeded) to report val_* metrics.
    # 0 = no validation split: val_* are then computed on the test split.
    val_fraction: float = 0.1
    # Optional cap on train images per class (taken in file-name order, before the val split); curated production
    # samples (prod-*.png) are always kept on top of it.
    max_train_per_class: int | None = None
    # Random +-2 px shifts and horizontal flips of training batches.
    augment: bool = False
    label_smoothing: float = 0.0
    num_threads: int = 2
    # Emit a {"event":"progress"} line every this many optimizer steps.
    progress_every: int = 50
    # Input geometry: images are converted to grayscale (1) or RGB (3) and resized to
    # image_size x image_size (bilinear) when they are not already that size.
    image_size: int = 28
    channels: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_INT_RANGES = {
    "epochs": (1, 1000),
    "batch_size": (1, 65536),
    "seed": (0, 2**32 - 1),
    "max_train_per_class": (1, 10**9),
    "num_threads": (1, 256),
    "progress_every": (1, 10**9),
    "image_size": (8, 512),
    "channels": (1, 3),
}
_FLOAT_RANGES = {
    "learning_rate": (1e-7, 10.0),
    "weight_decay": (0.0, 1.0),
    "val_fraction": (0.0, 0.5),
    "label_smoothing": (0.0, 0.5),
}


def _coerce(name: str, value: Any) -> Any:
    """Accepts JSON numbers/booleans, and numeric strings (workflow params may arrive as strings)."""
    # "None" is how MLflow records Python's None: a run's recorded params are valid input again.
    if name == "max_train_per_class" and value in (None, 0, "", "0", "null", "None"):
        return None
    if name == "augment":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise TrainerInputError(f"param {name} must be a boolean, got {value!r}")
    if isinstance(value, bool):
        raise TrainerInputError(f"param {name} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise TrainerInputError(f"param {name} must be a number, got {value!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TrainerInputError(f"param {name} must be a finite number, got {value!r}")
    if name in _INT_RANGES:
        if float(value) != int(value):
            raise TrainerInputError(f"param {name} must be an integer, got {value!r}")
        lo, hi = _INT_RANGES[name]
        if not lo <= int(value) <= hi:
            raise TrainerInputError(f"param {name} must be in [{lo}, {hi}], got {value!r}")
        if name == "channels" and int(value) not in (1, 3):
            raise TrainerInputError(f"param channels must be 1 (grayscale) or 3 (RGB), got {value!r}")
        return int(value)
    lo, hi = _FLOAT_RANGES[name]
    if not lo <= float(value) <= hi:
        raise TrainerInputError(f"param {name} must be in [{lo}, {hi}], got {value!r}")
    return float(value)


def parse_params(raw: Any) -> Params:
    if not isinstance(raw, dict):
        raise TrainerInputError(f"params must be a JSON object, got {type(raw).__name__}")
    known = {f.name for f in fields(Params)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise TrainerInputError(f"unknown param(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return Params(**{name: _coerce(name, value) for name, value in raw.items()})


def load_params(path: Path) -> Params:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrainerInputError(f"cannot read params file {path}: {exc.strerror}") from None
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise TrainerInputError(f"params file {path} is not valid JSON: {exc}") from None
    return parse_params(raw)
