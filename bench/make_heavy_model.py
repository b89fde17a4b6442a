"""A compute-bound ONNX CNN with random weights, made by the benchmark itself (nothing is downloaded).

    make_heavy_model.py OUT.onnx [--size 32] [--hidden 1536] [--seed 0]

Input [batch, 3, size, size] float32 (RGB), output [batch, 10] logits, with Lifecycle's serving
metadata so the normal inference workers serve it. At the defaults one image costs ~680 MFLOP:
a convolutional stem (conv3x3 3->96 and 96->192 at full resolution, max-pool, conv3x3 192->192
and 192->96 at half) and a wide dense head (flatten -> hidden -> hidden -> 10), like the
classifier head of VGG-style networks. Compute dominates what a request costs, as it should for a
model that batching is measured on. The head is why batching matters: for one image it is a matrix-vector product that
reads all its weights from memory (bandwidth-bound); for a batch it is one matrix-matrix
product that reads them once. Prints the FLOP count and parameter count as JSON on stdout.
"""

import argparse
import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LABELS = [f"class-{i}" for i in range(10)]
# Channels of the convolutional stem (full resolution, then half).
WIDTH = (96, 192, 96)


def conv(rng, name, cin, cout, inputs, out, initializers):
    w = rng.normal(0, np.sqrt(2 / (9 * cin)), size=(cout, cin, 3, 3)).astype(np.float32)
    b = np.zeros(cout, dtype=np.float32)
    initializers += [numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(b, f"{name}.b")]
    return [
        helper.make_node("Conv", [inputs, f"{name}.w", f"{name}.b"], [f"{name}.c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", [f"{name}.c"], [out]),
    ]


def dense(rng, name, fin, fout, inputs, out, initializers, relu=True):
    w = rng.normal(0, np.sqrt(2 / fin), size=(fin, fout)).astype(np.float32)
    initializers += [numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(np.zeros(fout, np.float32), f"{name}.b")]
    gemm = helper.make_node("Gemm", [inputs, f"{name}.w", f"{name}.b"], [f"{name}.g" if relu else out])
    return [gemm, helper.make_node("Relu", [f"{name}.g"], [out])] if relu else [gemm]


def build(size: int, hidden: int, seed: int) -> tuple[onnx.ModelProto, int, int]:
    rng = np.random.default_rng(seed)
    init: list = []
    nodes = []
    nodes += conv(rng, "c1", 3, WIDTH[0], "input", "r1", init)
    nodes += conv(rng, "c2", WIDTH[0], WIDTH[1], "r1", "r2", init)
    nodes.append(helper.make_node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]))
    nodes += conv(rng, "c3", WIDTH[1], WIDTH[1], "p2", "r3", init)
    nodes += conv(rng, "c4", WIDTH[1], WIDTH[2], "r3", "r4", init)
    nodes.append(helper.make_node("Flatten", ["r4"], ["f"], axis=1))
    half = size // 2
    flat = WIDTH[2] * half * half
    nodes += dense(rng, "d1", flat, hidden, "f", "h1", init)
    nodes += dense(rng, "d2", hidden, hidden, "h1", "h2", init)
    nodes += dense(rng, "d3", hidden, len(LABELS), "h2", "logits", init, relu=False)
    graph = helper.make_graph(
        nodes,
        "lifecycle-bench-heavy-cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(LABELS)])],
        initializer=init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    dense_macs = flat * hidden + hidden * hidden + hidden * len(LABELS)
    macs = size * size * (3 * WIDTH[0] + WIDTH[0] * WIDTH[1]) * 9 + half * half * (WIDTH[1] * WIDTH[1] + WIDTH[1] * WIDTH[2]) * 9 + dense_macs
    params = sum(int(np.prod(t.dims)) for t in init)
    helper.set_model_props(
        model,
        {
            "lifecycle.labels": json.dumps(LABELS),
            "lifecycle.input": json.dumps({"name": "input", "layout": "NCHW", "channels": 3, "height": size, "width": size, "colorspace": "rgb", "dtype": "float32"}),
            "lifecycle.normalization": json.dumps({"scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}),
            "lifecycle.output": json.dumps({"name": "logits", "kind": "logits"}),
            "lifecycle.trainer": f"bench-heavy-cnn seed={seed} (random weights)",
        },
    )
    onnx.checker.check_model(model)
    return model, 2 * macs, params


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=1536)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model, flops, params = build(args.size, args.hidden, args.seed)
    onnx.save(model, args.out)
    print(json.dumps({"flops_per_image": flops, "parameters": params, "input": [3, args.size, args.size]}))


if __name__ == "__main__":
    main()
