"""Writes a drift_reference.json for a model that was not trained here (a test fixture model), the way
the trainer does for its own: the reference statistics of a set of images as the model sees them
(trainer/lifecycle_trainer/reference.py) and the model's own probabilities on them (onnxruntime,
with the normalisation from the model's metadata).

Usage: make_drift_reference.py MODEL.onnx PIXELS.bin OUT.json
PIXELS.bin: uint8 images at the model's geometry, HWC, one after another.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "trainer"))
from lifecycle_trainer.reference import drift_reference  # noqa: E402


def main() -> None:
    model, pixels, out = sys.argv[1:4]
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    spec, norm, labels = json.loads(meta["lifecycle.input"]), json.loads(meta["lifecycle.normalization"]), json.loads(meta["lifecycle.labels"])
    h, w, c = spec["height"], spec["width"], spec["channels"]
    images = np.frombuffer(Path(pixels).read_bytes(), dtype=np.uint8).reshape(-1, h, w, c)
    x = (images.astype(np.float32) * np.float32(norm["scale"]) - np.asarray(norm["mean"], np.float32)) / np.asarray(norm["std"], np.float32)
    logits = session.run(None, {spec["name"]: x.transpose(0, 3, 1, 2)})[0]
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    Path(out).write_text(json.dumps(drift_reference(images[..., 0] if c == 1 else images, probs, labels)))


if __name__ == "__main__":
    main()
