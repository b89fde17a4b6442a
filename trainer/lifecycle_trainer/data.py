"""Reads a dataset directory in the Lifecycle format into uint8 arrays.

    DATASET/labels.json           optional JSON array of class names, in class order
    DATASET/train/<class>/*.png   a folder per class (PNG, JPEG, WebP, BMP, GIF, TIFF)
    DATASET/test/<class>/*.png    the held-out evaluation split, same class folders

With labels.json, class folders are the zero-padded class indices (00, 01, ...; any integer
spelling is accepted). Without it, the folder names are the class names, in sorted order.
Images are converted to the trainer's geometry (params `channels`, `image_size`): grayscale ('L')
or RGB, resized to image_size x image_size (bilinear) when not already that size. Arrays are
uint8 [N, S, S] for one channel and [N, S, S, 3] (HWC, interleaved as decoders give them) for RGB.
Files are read in sorted name order, so the arrays (and every seeded choice on them) are
the same on every run.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import TrainerInputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
# Below this many files a process pool costs more than it saves.
_POOL_MIN_FILES = 4000


@dataclass(frozen=True)
class Geometry:
    """What the model sees: size x size pixels, 1 (grayscale) or 3 (RGB) channels."""

    size: int = 28
    channels: int = 1

    @property
    def mode(self) -> str:
        return "L" if self.channels == 1 else "RGB"

    @property
    def colorspace(self) -> str:
        return "grayscale" if self.channels == 1 else "rgb"

    @property
    def pixel_shape(self) -> tuple[int, ...]:
        """Shape of one image's uint8 array: (S, S) or (S, S, 3)."""
        return (self.size, self.size) if self.channels == 1 else (self.size, self.size, self.channels)


@dataclass
class Split:
    images: np.ndarray  # uint8 [N, S, S] or [N, S, S, 3]
    labels: np.ndarray  # int64 [N]


@dataclass
class Dataset:
    labels: list[str]
    train: Split
    test: Split


def _read_labels(root: Path) -> list[str] | None:
    path = root / "labels.json"
    if not path.exists():
        return None
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TrainerInputError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(labels, list) or not all(isinstance(x, str) and x.strip() for x in labels):
        raise TrainerInputError(f"{path}: expected a JSON array of non-empty strings")
    if len(set(labels)) != len(labels):
        raise TrainerInputError(f"{path}: class names must be unique")
    if len(labels) < 2:
        raise TrainerInputError(f"{path}: need at least 2 classes, got {len(labels)}")
    return labels


def _class_folders(split_dir: Path) -> list[Path]:
    if not split_dir.is_dir():
        raise TrainerInputError(f"dataset split folder missing: {split_dir}")
    return sorted((p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def _index_folders(split_dir: Path, labels: list[str]) -> dict[int, Path]:
    """Maps class index -> folder for a split whose folders are named by class index."""
    mapping: dict[int, Path] = {}
    for folder in _class_folders(split_dir):
        try:
            index = int(folder.name, 10)
        except ValueError:
            raise TrainerInputError(
                f"{folder}: with labels.json, class folders must be class indices (00..{len(labels) - 1:02d})"
            ) from None
        if not 0 <= index < len(labels):
            raise TrainerInputError(f"{folder}: class index {index} is outside labels.json ({len(labels)} classes)")
        if index in mapping:
            raise TrainerInputError(f"{folder}: class {index} has two folders ({mapping[index].name})")
        mapping[index] = folder
    return mapping


# File-name prefix of the labelled production samples a curation adds (activities/curation.ts writes them).
CURATED_PREFIX = "prod-"


def _list_images(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _load_image(path: str, geometry: Geometry) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if im.mode != geometry.mode:
                im = im.convert(geometry.mode)
            if im.size != (geometry.size, geometry.size):
                im = im.resize((geometry.size, geometry.size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise TrainerInputError(f"cannot read image {path}: {exc}") from None


def _load_chunk(paths: list[str], geometry: Geometry) -> np.ndarray:
    if not paths:
        return np.zeros((0, *geometry.pixel_shape), np.uint8)
    return np.stack([_load_image(p, geometry) for p in paths])


def _load_many(paths: list[str], workers: int, geometry: Geometry) -> np.ndarray:
    if workers <= 1 or len(paths) < _POOL_MIN_FILES or "fork" not in multiprocessing.get_all_start_methods():
        return _load_chunk(paths, geometry)
    chunk = 2000
    chunks = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]
    # fork: children inherit the imported modules, no re-import of torch; they only run PIL + numpy.
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return np.concatenate(pool.map(partial(_load_chunk, geometry=geometry), chunks))


def _load_split(folders: dict[int, Path], max_per_class: int | None, workers: int, geometry: Geometry) -> Split:
    paths: list[str] = []
    labels: list[int] = []
    for index in sorted(folders):
        files = _list_images(folders[index])
        if max_per_class is not None:
            # The cap shortens training on the base data; it never drops production samples (the curation names
            # them prod-<content hash>.png): they are the reason a curated version exists.
            base: list[str] = []
            curated: list[str] = []
            for f in files:
                (curated if Path(f).name.startswith(CURATED_PREFIX) else base).append(f)
            files = base[:max_per_class] + curated
        paths += files
        labels += [index] * len(files)
    return Split(_load_many(paths, workers, geometry), np.asarray(labels, dtype=np.int64))


def load_dataset(
    root: Path, max_train_per_class: int | None = None, workers: int = 1, geometry: Geometry = Geometry()
) -> Dataset:
    if not root.is_dir():
        raise TrainerInputError(f"dataset directory not found: {root}")
    labels = _read_labels(root)
    train_dir, test_dir = root / "train", root / "test"
    if labels is None:
        names = [p.name for p in _class_folders(train_dir)]
        if len(names) < 2:
            raise TrainerInputError(f"{train_dir}: need at least 2 class folders, found {len(names)}")
        labels = names
        train_folders = {i: train_dir / n for i, n in enumerate(names)}
        test_folders = {}
        for folder in _class_folders(test_dir):
            if folder.name not in names:
                raise TrainerInputError(f"{folder}: class folder not present in {train_dir}")
            test_folders[names.index(folder.name)] = folder
    else:
        train_folders = _index_folders(train_dir, labels)
        test_folders = _index_folders(test_dir, labels)

    missing = [labels[i] for i in range(len(labels)) if i not in train_folders or not _list_images(train_folders[i])]
    if missing:
        raise TrainerInputError(f"{train_dir}: no training images for class(es) {', '.join(missing)}")
    train = _load_split(train_folders, max_train_per_class, workers, geometry)
    test = _load_split(test_folders, None, workers, geometry)
    if len(test.labels) == 0:
        raise TrainerInputError(f"{test_dir}: no test images")
    return Dataset(labels=labels, train=train, test=test)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): `fraction` of every class, chosen with a seeded RNG, at least one per class."""
    if fraction <= 0:
        return np.arange(len(labels)), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    train_idx, val_idx = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_val = min(len(idx) - 1, max(1, round(len(idx) * fraction)))
        val_idx.append(idx[:n_val])
        train_idx.append(idx[n_val:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(val_idx))


def load_image(path: Path, geometry: Geometry) -> np.ndarray:
    """One image as the trainer reads it (uint8 [S, S] or [S, S, 3])."""
    return _load_image(str(path), geometry)


def first_test_image(root: Path, geometry: Geometry) -> tuple[np.ndarray, int]:
    """The first test image (class order, then file-name order) and its class index."""
    ds_labels = _read_labels(root)
    test_dir = root / "test"
    if ds_labels is None:
        names = [p.name for p in _class_folders(root / "train")]
        folders = {names.index(f.name): f for f in _class_folders(test_dir) if f.name in names}
    else:
        folders = _index_folders(test_dir, ds_labels)
    for index in sorted(folders):
        files = _list_images(folders[index])
        if files:
            return _load_image(files[0], geometry), index
    raise TrainerInputError(f"{test_dir}: no test images")


def fingerprint(dataset: Dataset) -> str:
    """sha256 over labels and every train/test pixel and label, as loaded (after resizing and capping).

    A checkpoint records it, so a resume on different data is refused instead of silently mixing.
    """
    h = hashlib.sha256()
    h.update(json.dumps(dataset.labels).encode())
    for split in (dataset.train, dataset.test):
        h.update(repr(split.images.shape).encode())
        h.update(np.ascontiguousarray(split.images).data)
        h.update(np.ascontiguousarray(split.labels.astype("<i8")).data)
    return h.hexdigest()


def default_workers(num_threads: int) -> int:
    return max(1, min(num_threads, os.cpu_count() or 1))
