"""Drift of a window of live traffic against the training-time reference (drift_reference.json).

Each feature gets an effect size and a significance test, and drifts only when both say so: with
thousands of rows a test alone flags differences too small to matter, and a distance alone can be
noise on a small window. The choices follow Evidently's defaults for large samples (its
`wasserstein` and `jensenshannon` stattests, threshold 0.1), computed with scipy directly:
Evidently 0.7 does not import under the pandas release MLflow pins here, and alibi-detect would
bring transformers and numba for two scipy calls.

- Numerical features (the input features of reference.py, and the top-1 confidence):
  Wasserstein-1 distance normalised by the reference's standard deviation, and the two-sample
  Kolmogorov-Smirnov test (scipy.stats.ks_2samp).
- The predicted class: Jensen-Shannon distance (base 2, in [0, 1]) between the class
  distributions, and Pearson's chi-square test of homogeneity (scipy.stats.chi2_contingency).

The window drifts when at least `drift_share` of its features drift (Evidently's dataset-drift
rule, default 0.5), so one feature moving alone is reported but does not raise the flag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from .reference import FEATURES, image_features, summary

NUMERICAL = [*FEATURES, "confidence"]
CATEGORICAL = ["predicted"]


@dataclass(frozen=True)
class DriftSettings:
    threshold: float = 0.1
    alpha: float = 0.05
    drift_share: float = 0.5
    min_rows: int = 200


@dataclass(frozen=True)
class Window:
    """A window of logged requests: the pixels their model ran on, and its top-1 answer."""

    images: np.ndarray  # uint8 [N, H, W, C]
    predicted: list[str]
    confidence: np.ndarray  # float64 [N]


def window_columns(window: Window) -> dict[str, np.ndarray | list[str]]:
    return {**image_features(window.images), "confidence": window.confidence, "predicted": window.predicted}


def reference_columns(reference: dict) -> dict[str, np.ndarray | list[str]]:
    sample = reference["sample"]
    return {**{name: np.asarray(sample[name], dtype=np.float64) for name in NUMERICAL}, "predicted": list(sample["predicted"])}



def numerical_drift(ref: np.ndarray, cur: np.ndarray, s: DriftSettings) -> dict:
    # A constant reference column has no scale to normalise by; fall back to the raw distance
    # (features are in [0, 1]), as Evidently does for a zero-variance reference.
    scale = float(ref.std()) or 1.0
    distance = float(wasserstein_distance(ref, cur) / scale)
    p_value = float(ks_2samp(ref, cur).pvalue)
    return {
        "kind": "numerical",
        "distance": distance,
        "distance_name": "normalised Wasserstein-1",
        "test": "two-sample Kolmogorov-Smirnov",
        "p_value": p_value,
        "drifted": bool(distance > s.threshold and p_value < s.alpha),
        "reference": summary(ref),
        "current": summary(cur),
    }


def categorical_drift(ref: list[str], cur: list[str], labels: list[str], s: DriftSettings) -> dict:
    index = {label: i for i, label in enumerate(labels)}
    ref_counts = np.bincount([index[x] for x in ref if x in index], minlength=len(labels)).astype(np.float64)
    cur_counts = np.bincount([index[x] for x in cur if x in index], minlength=len(labels)).astype(np.float64)
    distance = float(jensenshannon(ref_counts, cur_counts, base=2))
    # Classes neither side predicted carry no information and would zero the expected counts.
    seen = (ref_counts + cur_counts) > 0
    table = np.vstack([ref_counts[seen], cur_counts[seen]])
    p_value = float(chi2_contingency(table).pvalue) if table.shape[1] > 1 else 1.0
    return {
        "kind": "categorical",
        "distance": distance,
        "distance_name": "Jensen-Shannon (base 2)",
        "test": "chi-square test of homogeneity",
        "p_value": p_value,
        "drifted": bool(distance > s.threshold and p_value < s.alpha),
        "reference": {label: float(ref_counts[i] / max(ref_counts.sum(), 1)) for label, i in index.items()},
        "current": {label: float(cur_counts[i] / max(cur_counts.sum(), 1)) for label, i in index.items()},
    }


def detect_drift(reference: dict, window: Window, s: DriftSettings) -> dict:
    """The drift result of a window: per feature, its distance, test and verdict; and the flag."""
    rows = int(window.images.shape[0])
    settings = {"threshold": s.threshold, "alpha": s.alpha, "drift_share": s.drift_share, "min_rows": s.min_rows}
    base = {"rows": rows, "reference_rows": int(reference["sample"]["rows"]), "settings": settings}
    if rows < s.min_rows:
        return {**base, "status": "insufficient_data", "drift": False, "drifted_share": 0.0, "features": {}}
    ref, cur = reference_columns(reference), window_columns(window)
    labels = list(reference["predicted_class_distribution"])
    features = {name: numerical_drift(ref[name], cur[name], s) for name in NUMERICAL}  # type: ignore[arg-type]
    features["predicted"] = categorical_drift(ref["predicted"], cur["predicted"], labels, s)  # type: ignore[arg-type]
    share = sum(f["drifted"] for f in features.values()) / len(features)
    return {**base, "status": "ok", "drift": bool(share >= s.drift_share), "drifted_share": share, "features": features}
