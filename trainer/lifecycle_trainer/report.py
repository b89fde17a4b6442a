"""Progress events on stdout, and the confusion-matrix artifacts."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


class Exact(float):
    """A float written with full precision (e.g. the normalisation scale 1/255), not rounded like metrics."""


def _clean(value: object) -> object:
    if isinstance(value, Exact):
        return float(value)
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def emit(event: str, **fields: object) -> None:
    """One JSON object per stdout line (the trainer progress contract); nothing else goes to stdout."""
    sys.stdout.write(json.dumps(_clean({"event": event, **fields}), separators=(",", ":")) + "\n")
    sys.stdout.flush()


def log(message: str) -> None:
    sys.stderr.write(f"[trainer] {message}\n")
    sys.stderr.flush()


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(_clean(value), indent=2) + "\n", encoding="utf-8")


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def confusion_json(matrix: np.ndarray, names: list[str], split: str) -> dict:
    totals = matrix.sum(axis=1)
    return {
        "split": split,
        "labels": names,
        "rows": "true class",
        "columns": "predicted class",
        "matrix": matrix.tolist(),
        "per_class_accuracy": {
            name: (float(matrix[i, i] / totals[i]) if totals[i] else None) for i, name in enumerate(names)
        },
        "accuracy": float(np.trace(matrix) / max(1, matrix.sum())),
    }


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def draw_confusion_png(path: Path, matrix: np.ndarray, names: list[str], title: str) -> None:
    """Row-normalised heat map with counts; rows = true class, columns = predicted class."""
    n = len(names)
    cell = 52 if n <= 12 else max(18, 600 // n)
    font, small, big = _font(13), _font(11 if n <= 12 else 9), _font(16)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    label_w = max(int(probe.textlength(s, font=font)) for s in names) + 16
    col_h = label_w
    top, left = 40 + col_h, label_w + 30
    width, height = left + n * cell + 20, top + n * cell + 40
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((10, 10), title, fill="black", font=big)

    totals = matrix.sum(axis=1, keepdims=True).clip(min=1)
    share = matrix / totals
    for r in range(n):
        for c in range(n):
            v = float(share[r, c])
            # white -> blue
            color = (int(255 - 222 * v), int(255 - 164 * v), int(255 - 75 * v))
            x0, y0 = left + c * cell, top + r * cell
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=color, outline=(220, 220, 220))
            if n <= 20:
                text = str(int(matrix[r, c]))
                tw = probe.textlength(text, font=small)
                draw.text((x0 + (cell - tw) / 2, y0 + cell / 2 - 7), text, fill="white" if v > 0.5 else "black", font=small)
    for i, name in enumerate(names):
        tw = probe.textlength(name, font=font)
        draw.text((left - tw - 8, top + i * cell + cell / 2 - 8), name, fill="black", font=font)
        # rotated column label
        label = Image.new("RGBA", (int(tw) + 4, 18), (255, 255, 255, 0))
        ImageDraw.Draw(label).text((2, 1), name, fill="black", font=font)
        label = label.rotate(90, expand=True)
        img.paste(label, (int(left + i * cell + cell / 2 - 9), top - label.height - 6), label)
    draw.text((left, height - 28), "predicted class", fill="dimgray", font=font)
    side = Image.new("RGBA", (int(probe.textlength("true class", font=font)) + 4, 18), (255, 255, 255, 0))
    ImageDraw.Draw(side).text((2, 1), "true class", fill="dimgray", font=font)
    side = side.rotate(90, expand=True)
    img.paste(side, (4, top + n * cell // 2 - side.height // 2), side)
    img.save(path, format="PNG", optimize=False)


def environment() -> dict:
    """Library versions and platform: the lineage a run_info.json records next to the params."""
    import platform
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnx": version("onnx"),
        "numpy": np.__version__,
        "pillow": version("pillow"),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
