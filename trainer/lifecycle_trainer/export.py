"""ONNX export with Lifecycle's serving metadata, golden set, and a check against torch."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx.reference import ReferenceEvaluator
from torch import nn

from . import TRAINER_NAME, TRAINER_VERSION
from .data import Geometry
from .model import Normalization

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
OPSET = 17
GOLDEN_SIZE = 4
# Exported graph vs torch on the golden inputs (logits and probabilities); serving checks 1e-3.
EXPORT_ATOL = 1e-4


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def input_spec(geometry: Geometry) -> dict:
    """The lifecycle.input metadata: what serving must feed the graph."""
    return {
        "name": INPUT_NAME,
        "layout": "NCHW",
        "channels": geometry.channels,
        "height": geometry.size,
        "width": geometry.size,
        "colorspace": geometry.colorspace,
        "dtype": "float32",
    }


def choose_golden(
    images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, num_classes: int, size: int = GOLDEN_SIZE
) -> list[int]:
    """Indices of `size` test images, spread over classes, that the model classifies with a clear margin.

    The golden check compares a loaded model with what this model computed, so a large
    top-1/top-2 margin keeps it stable under float differences between runtimes.
    """
    top2 = np.sort(probabilities, axis=1)[:, -2:] if probabilities.shape[1] > 1 else probabilities
    margin = top2[:, -1] - (top2[:, 0] if top2.shape[1] > 1 else 0)
    correct = probabilities.argmax(axis=1) == labels
    good = correct & (margin >= 0.5)
    wanted_classes = sorted({round(c) for c in np.linspace(0, num_classes - 1, size)})
    chosen: list[int] = []
    for c in wanted_classes:
        hits = np.flatnonzero(good & (labels == c))
        if len(hits):
            chosen.append(int(hits[0]))
    # Fill up (few classes, weak model): best margins first, correct ones preferred.
    order = np.lexsort((np.arange(len(labels)), -margin, ~correct))
    for i in order:
        if len(chosen) >= min(size, len(labels)):
            break
        if int(i) not in chosen:
            chosen.append(int(i))
    return chosen


def export_onnx(
    model: nn.Module,
    path: Path,
    labels: list[str],
    norm: Normalization,
    golden_pixels: np.ndarray,
    geometry: Geometry,
) -> dict:
    """Writes model.onnx with metadata_props; returns the golden entry that was recorded.

    `golden_pixels` are uint8 [N,S,S] or [N,S,S,C]; the golden inputs are stored flattened in that
    (HWC, interleaved) order, which is what serving's pixelsToTensor takes.
    """
    model.eval()
    dummy = torch.zeros(1, geometry.channels, geometry.size, geometry.size, dtype=torch.float32)
    buffer = io.BytesIO()
    torch.onnx.export(
        model,
        (dummy,),
        buffer,
        dynamo=False,
        opset_version=OPSET,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        do_constant_folding=True,
    )
    proto = onnx.load_from_string(buffer.getvalue())

    with torch.no_grad():
        x = norm.apply(torch.from_numpy(golden_pixels.reshape(-1, *geometry.pixel_shape))).contiguous()
        logits = model(x)
        probs = torch.softmax(logits, dim=1).numpy()
    top = probs.argmax(axis=1)
    golden = {
        "inputs": golden_pixels.reshape(len(golden_pixels), -1).astype(int).tolist(),
        "expected_labels": [labels[int(i)] for i in top],
        "expected_probabilities": [float(probs[i, t]) for i, t in enumerate(top)],
    }

    meta = {
        "lifecycle.labels": _compact(labels),
        "lifecycle.input": _compact(input_spec(geometry)),
        "lifecycle.normalization": _compact(norm.as_dict()),
        "lifecycle.output": _compact({"name": OUTPUT_NAME, "kind": "logits"}),
        "lifecycle.trainer": f"{TRAINER_NAME}/{TRAINER_VERSION}",
        "lifecycle.golden": _compact(golden),
    }
    onnx.helper.set_model_props(proto, meta)
    proto.producer_name = TRAINER_NAME
    proto.producer_version = TRAINER_VERSION
    onnx.checker.check_model(proto, full_check=True)
    _verify_against_torch(proto, x.numpy(), logits.numpy())
    path.write_bytes(proto.SerializeToString())
    return golden


def _verify_against_torch(proto: onnx.ModelProto, x: np.ndarray, expected_logits: np.ndarray) -> None:
    """Runs the exported graph with onnx's reference evaluator (batch of golden inputs, then batch 1)."""
    session = ReferenceEvaluator(proto)
    (got,) = session.run(None, {INPUT_NAME: x.astype(np.float32)})
    (single,) = session.run(None, {INPUT_NAME: x[:1].astype(np.float32)})
    if got.shape != expected_logits.shape or single.shape != (1, expected_logits.shape[1]):
        raise RuntimeError(f"exported model output shape {got.shape} / {single.shape}, expected {expected_logits.shape}")
    diff = float(np.abs(got - expected_logits).max())
    if diff > EXPORT_ATOL or float(np.abs(single - expected_logits[:1]).max()) > EXPORT_ATOL:
        raise RuntimeError(f"exported ONNX graph differs from torch: max |logit diff| = {diff:.2e} > {EXPORT_ATOL}")
