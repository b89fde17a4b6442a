#!/usr/bin/env python3
"""Logs a trainer's model.onnx into an MLflow run as an MLflow ONNX model (see trainer/README.md).

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 \\
    python trainer/log_mlflow_model.py --run-id RUN --onnx OUT/model.onnx [--name model] [--input-example-from DATASET_DIR]

The logged model gets an `MLmodel` with a tensor signature (input float32 [-1,C,H,W] named like the
graph input, output float32 [-1,num_classes]), an input example (one normalised image: the first
golden image from the model's own metadata, or the dataset's first test image), pip requirements
pinned to this environment's onnx/onnxruntime, and the lifecycle.* serving metadata. The run is not
started or ended (its status stays what the caller set).

Prints ONE JSON line on stdout (everything else goes to stderr):
  {"model_id","model_uri","artifact_uri","onnx_artifact_uri","onnx_sha256"}
`onnx_sha256` is the hash of model.onnx as stored in the artifact store (downloaded back after
logging: mlflow re-serialises the proto, so it can differ from the input file).
Exit codes: 0 ok, 2 bad input (missing file, not a Lifecycle ONNX model, unset MLFLOW_TRACKING_URI,
unknown run), 1 anything else (for example the tracking server is unreachable: retry).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Retrying cannot help (exit 2)."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Log a Lifecycle model.onnx into an MLflow run as an MLflow ONNX model.")
    parser.add_argument("--run-id", required=True, help="MLflow run to log the model into")
    parser.add_argument("--onnx", required=True, type=Path, help="the trainer's model.onnx")
    parser.add_argument("--name", default="model", help="logged model name (default: model)")
    parser.add_argument(
        "--input-example-from",
        type=Path,
        metavar="DATASET_DIR",
        help="take the input example from this dataset's first test image instead of the model's golden set",
    )
    return parser.parse_args(argv)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_lifecycle_metadata(proto) -> dict:
    props = {p.key: p.value for p in proto.metadata_props}
    try:
        meta = {k: json.loads(props[f"lifecycle.{k}"]) for k in ("labels", "input", "normalization", "output")}
    except KeyError as exc:
        raise BadInput(f"not a Lifecycle model: metadata {exc.args[0]} missing") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"invalid lifecycle.* metadata JSON: {exc}") from None
    meta["trainer"] = props.get("lifecycle.trainer")
    meta["golden"] = json.loads(props["lifecycle.golden"]) if "lifecycle.golden" in props else None
    spec = meta["input"]
    if spec.get("layout") != "NCHW" or spec.get("channels") not in (1, 3):
        raise BadInput(f"unsupported lifecycle.input {spec}")
    graph_inputs = [i.name for i in proto.graph.input]
    if spec["name"] not in graph_inputs:
        raise BadInput(f"lifecycle.input names {spec['name']!r} but the graph's inputs are {graph_inputs}")
    return meta


def normalise(pixels, meta: dict):
    """uint8 HWC (flattened or [H,W(,C)]) -> float32 [1,C,H,W], the same float32 arithmetic as the trainer."""
    import numpy as np

    spec, norm = meta["input"], meta["normalization"]
    c, h, w = spec["channels"], spec["height"], spec["width"]
    x = np.asarray(pixels, dtype=np.float32).reshape(h, w, c).transpose(2, 0, 1)[None]
    mean = np.asarray(norm["mean"], dtype=np.float32).reshape(1, c, 1, 1)
    std = np.asarray(norm["std"], dtype=np.float32).reshape(1, c, 1, 1)
    return np.ascontiguousarray((x * np.float32(norm["scale"]) - mean) / std, dtype=np.float32)


def input_example(meta: dict, dataset: Path | None):
    if dataset is not None:
        from lifecycle_trainer import TrainerInputError
        from lifecycle_trainer.data import Geometry, first_test_image

        spec = meta["input"]
        if spec["height"] != spec["width"]:
            raise BadInput("--input-example-from needs a square model input")
        try:
            pixels, _ = first_test_image(dataset, Geometry(size=spec["height"], channels=spec["channels"]))
        except TrainerInputError as exc:
            raise BadInput(str(exc)) from None
        return normalise(pixels, meta)
    if not meta["golden"] or not meta["golden"].get("inputs"):
        raise BadInput("the model has no lifecycle.golden inputs; pass --input-example-from DATASET_DIR")
    return normalise(meta["golden"]["inputs"][0], meta)


def log_model(args: argparse.Namespace) -> dict:
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        raise BadInput("MLFLOW_TRACKING_URI is not set")
    if not args.onnx.is_file():
        raise BadInput(f"ONNX file not found: {args.onnx}")

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    import numpy as np
    import onnx
    import onnxruntime
    from mlflow.exceptions import MlflowException
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    try:
        proto = onnx.load(str(args.onnx))
    except Exception as exc:  # noqa: BLE001 - any parse failure means bad input
        raise BadInput(f"cannot read ONNX model {args.onnx}: {exc}") from None
    meta = read_lifecycle_metadata(proto)
    spec = meta["input"]
    example = input_example(meta, args.input_example_from)
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, spec["channels"], spec["height"], spec["width"]), spec["name"])]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, len(meta["labels"])), meta["output"]["name"])]),
    )

    client = mlflow.MlflowClient()
    try:
        run = client.get_run(args.run_id)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise BadInput(f"MLflow run {args.run_id} not found") from None
        raise
    # The logged model belongs to the run's experiment (mlflow otherwise files it under the
    # active experiment, which in a fresh process is the Default one).
    mlflow.set_experiment(experiment_id=run.info.experiment_id)

    info = mlflow.onnx.log_model(
        proto,
        name=args.name,
        run_id=args.run_id,
        signature=signature,
        input_example={spec["name"]: example},
        pip_requirements=[f"onnx=={onnx.__version__}", f"onnxruntime=={onnxruntime.__version__}"],
        onnx_execution_providers=["CPUExecutionProvider"],
        # One self-contained model.onnx: the inference workers download just that file.
        save_as_external_data=False,
        metadata={
            "lifecycle": {
                "labels": meta["labels"],
                "input": spec,
                "normalization": meta["normalization"],
                "output": meta["output"],
                "trainer": meta["trainer"],
                "source_sha256": sha256_file(args.onnx),
            }
        },
    )
    artifact_uri = client.get_logged_model(info.model_id).artifact_location.rstrip("/")
    onnx_artifact_uri = f"{artifact_uri}/model.onnx"
    with tempfile.TemporaryDirectory(prefix="lifecycle-mlflow-") as tmp:
        stored = Path(mlflow.artifacts.download_artifacts(artifact_uri=onnx_artifact_uri, dst_path=tmp))
        onnx_sha256 = sha256_file(stored)
    return {
        "model_id": info.model_id,
        "model_uri": info.model_uri,
        "artifact_uri": artifact_uri,
        "onnx_artifact_uri": onnx_artifact_uri,
        "onnx_sha256": onnx_sha256,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stdout = sys.stdout
    try:
        # Only the result line goes to stdout: anything mlflow prints ends up on stderr.
        with contextlib.redirect_stdout(sys.stderr):
            result = log_model(args)
    except BadInput as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - traceback, then a one-line summary last
        traceback.print_exc(file=sys.stderr)
        sys.stderr.write(f"error: logging the model failed: {type(exc).__name__}: {exc}\n")
        return EXIT_FAILURE
    stdout.write(json.dumps(result, separators=(",", ":")) + "\n")
    stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
