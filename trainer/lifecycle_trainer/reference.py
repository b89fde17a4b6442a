"""Reference statistics for drift monitoring, taken on the test split at training time.

The inputs are described as the model sees them: the uint8 pixels at the model's geometry, which is
also exactly what the payload log keeps for live requests, so a live window and this reference are
comparable feature by feature. Each image is reduced to a few scalar features (`image_features`, the
one definition both sides use), kept per image for a deterministic sample (a drift test compares
distributions, not summaries) and summarised over the whole split; the model's predicted-class
distribution and top-1 confidence on the split complete it.
"""

from __future__ import annotations

import numpy as np

REFERENCE_VERSION = 1

FEATURES = {
    "brightness": "mean pixel value / 255",
    "contrast": "standard deviation of the pixel values / 255",
    "ink": "share of pixels above 127",
}


def image_features(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per image (uint8 [N, H, W] or [N, H, W, C]): the features named in FEATURES, float64 [N] each."""
    n = images.shape[0]
    if n == 0:
        return {name: np.zeros(0) for name in FEATURES}
    flat = images.reshape(n, -1).astype(np.float64) / 255.0
    return {
        "brightness": flat.mean(axis=1),
        "contrast": flat.std(axis=1),
        "ink": (flat > 127 / 255).mean(axis=1),
    }


def summary(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    q = np.quantile(values, [0.05, 0.5, 0.95])
    return {"mean": float(values.mean()), "std": float(values.std()), "p05": float(q[0]), "p50": float(q[1]), "p95": float(q[2])}


def drift_reference(images: np.ndarray, probabilities: np.ndarray, labels: list[str], max_rows: int = 2000, seed: int = 0) -> dict:
    """The reference document (drift_reference.json) for a split and the model's probabilities on it."""
    n = int(images.shape[0])
    features = image_features(images)
    predicted = probabilities.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    confidence = probabilities.max(axis=1) if n else np.zeros(0)
    # A fixed sample (same split, same rows, every run) keeps the file small and the comparison reproducible.
    rows = np.arange(n) if n <= max_rows else np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))
    counts = np.bincount(predicted, minlength=len(labels))
    return {
        "version": REFERENCE_VERSION,
        "split": "test",
        "n": n,
        "features": FEATURES,
        "summary": {**{name: summary(v) for name, v in features.items()}, "confidence": summary(confidence)},
        "predicted_class_distribution": {label: (int(counts[i]) / n if n else 0.0) for i, label in enumerate(labels)},
        "sample": {
            "rows": int(rows.size),
            **{name: features[name][rows].tolist() for name in FEATURES},
            "predicted": [labels[int(i)] for i in predicted[rows]],
            "confidence": confidence[rows].tolist(),
        },
    }
