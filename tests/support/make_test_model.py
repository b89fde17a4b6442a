"""Build a tiny, deterministic ONNX classifier that carries Lifecycle's serving metadata.

The serving tests need a real ONNX file (real onnxruntime, real metadata
parsing) without training anything: a single linear layer over the 784 pixels
of a 28x28 grayscale image, with weights drawn from a seeded RNG. Different
seeds give different files (and sha256), which is how the tests simulate model
versions. Golden entries are computed here with numpy, exactly as the real
trainer records them at registration.

Usage: make_test_model.py OUT.onnx [--seed N] [--golden ok|bad|none] [--mean M --std S]
                          [--size N --channels 1|3] [--labels a,b,c]
"""

import argparse
import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SCALE = 1 / 255


def build(seed: int, golden: str, mean: float = 0.2860, std: float = 0.3530, size: int = 28, channels: int = 1, labels: list[str] = FASHION) -> onnx.ModelProto:
    H, W, C = size, size, channels
    LABELS = labels
    MEAN = np.full(C, mean, dtype=np.float32)
    STD = np.full(C, std, dtype=np.float32)
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.05, size=(C * H * W, len(LABELS))).astype(np.float32)
    bias = rng.normal(0, 0.1, size=(len(LABELS),)).astype(np.float32)

    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "weights", "bias"], ["logits"]),
        ],
        "lifecycle-test-linear",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", C, H, W])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(LABELS)])],
        initializer=[numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")],
    )
    # Opset 17 / IR 8 stay well inside what onnxruntime-node supports.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)

    meta = {
        "lifecycle.labels": json.dumps(LABELS),
        "lifecycle.input": json.dumps(
            {"name": "input", "layout": "NCHW", "channels": C, "height": H, "width": W, "colorspace": "grayscale" if C == 1 else "rgb", "dtype": "float32"}
        ),
        "lifecycle.normalization": json.dumps({"scale": SCALE, "mean": MEAN.tolist(), "std": STD.tolist()}),
        "lifecycle.output": json.dumps({"name": "logits", "kind": "logits"}),
        "lifecycle.trainer": f"test-linear seed={seed}",
    }
    if golden != "none":
        # Golden inputs are raw pixels in HWC order (as decoders produce them); the model sees CHW.
        pixels = rng.integers(0, 256, size=(4, H * W * C), dtype=np.int64)
        hwc = pixels.reshape(4, H, W, C).astype(np.float32)
        x = ((hwc * np.float32(SCALE)) - MEAN) / STD
        x = x.transpose(0, 3, 1, 2).reshape(4, -1)
        logits = x @ weights + bias
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        top = probs.argmax(axis=1)
        labels = [LABELS[i] for i in top]
        if golden == "bad":
            # Expected labels that the model does not produce: the golden check must refuse it.
            labels = [LABELS[(i + 1) % len(LABELS)] for i in top]
        meta["lifecycle.golden"] = json.dumps(
            {
                "inputs": pixels.tolist(),
                "expected_labels": labels,
                "expected_probabilities": [float(probs[i, t]) for i, t in enumerate(top)],
            }
        )
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--golden", choices=["ok", "bad", "none"], default="ok")
    parser.add_argument("--mean", type=float, default=0.2860)
    parser.add_argument("--std", type=float, default=0.3530)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--channels", type=int, choices=[1, 3], default=1)
    parser.add_argument("--labels", default=",".join(FASHION))
    args = parser.parse_args()
    onnx.save(build(args.seed, args.golden, args.mean, args.std, args.size, args.channels, args.labels.split(",")), args.out)


if __name__ == "__main__":
    main()
