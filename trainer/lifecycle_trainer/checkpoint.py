"""Per-epoch training checkpoints: everything needed to continue a run bit-exactly.

A checkpoint is a `torch.save` file of plain types and tensors only (state dicts, RNG states as
uint8 tensors, lists, dicts, strings, numbers), so it loads with `torch.load(weights_only=True)`:
loading a checkpoint never executes code. It is written to a temporary file, fsynced and renamed,
so a crash leaves either the previous checkpoint or the complete new one.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import TrainerInputError

FORMAT = "lifecycle-cnn-checkpoint"
FORMAT_VERSION = 1
# Checkpoints kept in OUT/checkpoints (the newest ones); older ones are deleted after each write.
KEEP = 2


@dataclass
class TrainingState:
    """The live objects a checkpoint captures and restores."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator


def checkpoint_path(out_dir: Path, epoch: int) -> Path:
    return out_dir / "checkpoints" / f"epoch-{epoch:04d}.pt"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(path: Path, state: TrainingState, info: dict[str, Any]) -> str:
    """Atomically writes the checkpoint (tmp + fsync + rename); returns its sha256. Prunes old ones."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **info,
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "rng": {"generator": state.generator.get_state(), "torch": torch.get_rng_state()},
    }
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    _prune(path)
    return _sha256(path)


def _prune(latest: Path) -> None:
    """Keeps the KEEP newest epoch checkpoints up to `latest` (files of a later, abandoned attempt are
    left alone: this run overwrites them when it gets there) and drops temporary files of killed writes."""
    older = sorted(p for p in latest.parent.glob("epoch-*.pt") if p.name <= latest.name)
    for stale in older[:-KEEP] + list(latest.parent.glob(".epoch-*.pt.tmp")):
        stale.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Reads a checkpoint without executing code (weights_only); bad files are bad input (exit 2)."""
    if not path.is_file():
        raise TrainerInputError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated file, pickle with code, not a torch file...
        if isinstance(exc, pickle.UnpicklingError):
            reason = "not a file of tensors and plain data (torch.load with weights_only=True refused it)"
        else:
            reason = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
        raise TrainerInputError(f"cannot read checkpoint {path}: {reason}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TrainerInputError(f"{path} is not a {FORMAT} file")
    if data.get("format_version") != FORMAT_VERSION:
        raise TrainerInputError(
            f"{path}: checkpoint format version {data.get('format_version')} is not supported (this trainer reads {FORMAT_VERSION})"
        )
    return data


def check_params(data: dict[str, Any], path: Path, params: dict[str, Any]) -> None:
    """Refuses a checkpoint made with other resolved params (every key must match; exit 2 naming them).

    Run before the dataset is loaded, so a mismatch fails fast.
    """
    saved = data.get("params") or {}
    problems = [
        f"param {key} is {params.get(key, '<missing>')!r}, checkpoint has {saved.get(key, '<missing>')!r}"
        for key in sorted(set(saved) | set(params))
        if saved.get(key, "<missing>") != params.get(key, "<missing>")
    ]
    epoch = data.get("epoch")
    if not problems and (not isinstance(epoch, int) or not 1 <= epoch <= params["epochs"]):
        problems.append(f"checkpoint epoch {epoch!r} is outside 1..{params['epochs']}")
    if problems:
        raise TrainerInputError(f"cannot resume from {path}: " + "; ".join(problems))


def check_data(data: dict[str, Any], path: Path, expected: dict[str, Any]) -> None:
    """Refuses a checkpoint made on other labels, images or normalisation (exit 2, naming what differs)."""
    if data.get("labels") != expected["labels"]:
        problem = f"labels are {expected['labels']}, checkpoint has {data.get('labels')}"
    elif data.get("data_sha256") != expected["data_sha256"]:
        problem = "the dataset's images differ from the ones the checkpoint was trained on (data_sha256)"
    elif data.get("normalization") != expected["normalization"]:
        problem = f"normalization is {expected['normalization']}, checkpoint has {data.get('normalization')}"
    else:
        return
    raise TrainerInputError(f"cannot resume from {path}: {problem}")


def restore(data: dict[str, Any], state: TrainingState) -> None:
    """Loads model, optimizer, scheduler and both RNG states (call after building them as for a fresh run)."""
    state.model.load_state_dict(data["model"])
    state.optimizer.load_state_dict(data["optimizer"])
    state.scheduler.load_state_dict(data["scheduler"])
    state.generator.set_state(data["rng"]["generator"])
    torch.set_rng_state(data["rng"]["torch"])
