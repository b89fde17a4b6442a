#!/usr/bin/env python3
"""Lifecycle's default trainer (the trainer contract in DESIGN.md, details in trainer/README.md).

    python trainer/train.py --data DATASET_DIR --params PARAMS.json --out OUT_DIR [--resume CHECKPOINT]

Writes OUT_DIR/model.onnx (with lifecycle.* metadata), metrics.json, history.json, run_info.json,
confusion_matrix.json, confusion_matrix.png, drift_reference.json (reference statistics of the test split
for drift monitoring: lifecycle_trainer/reference.py), and after every epoch OUT_DIR/checkpoints/epoch-NNNN.pt
(the two newest are kept), from which --resume continues bit-exactly. Progress goes to stdout as one
JSON object per line; logs and errors go to stderr. Exit codes: 0 ok, 2 bad input (dataset, params,
arguments, a checkpoint that does not fit: retrying cannot help), 1 any other failure.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lifecycle_trainer import TRAINER_NAME, TRAINER_VERSION, TrainerInputError  # noqa: E402
from lifecycle_trainer.params import Params, load_params  # noqa: E402

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the Lifecycle CNN and export it to ONNX.")
    parser.add_argument("--data", required=True, type=Path, help="dataset directory (labels.json, train/, test/)")
    parser.add_argument("--params", type=Path, help="JSON file of training params (all optional)")
    parser.add_argument("--out", required=True, type=Path, help="output directory (created if missing)")
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="CHECKPOINT",
        help="continue from a checkpoint (OUT/checkpoints/epoch-NNNN.pt) made with the same data and params",
    )
    parser.add_argument("--version", action="version", version=f"{TRAINER_NAME}/{TRAINER_VERSION}")
    return parser.parse_args(argv)


def train(data_dir: Path, params: Params, out_dir: Path, resume: Path | None = None) -> dict:
    started = time.monotonic()
    import numpy as np
    import torch

    from lifecycle_trainer.checkpoint import (
        TrainingState,
        check_data,
        check_params,
        checkpoint_path,
        load_checkpoint,
        restore,
        save_checkpoint,
    )
    from lifecycle_trainer.data import Geometry, default_workers, fingerprint, load_dataset, stratified_split
    from lifecycle_trainer.export import choose_golden, export_onnx, input_spec
    from lifecycle_trainer.model import Normalization, SmallCNN, evaluate
    from lifecycle_trainer.reference import drift_reference
    from lifecycle_trainer.report import (
        Exact,
        confusion_json,
        confusion_matrix,
        draw_confusion_png,
        emit,
        environment,
        log,
        write_json,
    )
    from lifecycle_trainer.training import run_epoch

    torch.set_num_threads(params.num_threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(params.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)

    # Read and check the checkpoint before the (slow) dataset, so a bad file or other params fail at once.
    checkpoint = load_checkpoint(resume) if resume is not None else None
    if checkpoint is not None:
        check_params(checkpoint, resume, params.as_dict())
    out_dir.mkdir(parents=True, exist_ok=True)
    geometry = Geometry(size=params.image_size, channels=params.channels)
    log(f"loading {data_dir} ({geometry.colorspace} {geometry.size}x{geometry.size})")
    load_started = time.monotonic()
    ds = load_dataset(data_dir, params.max_train_per_class, workers=default_workers(params.num_threads), geometry=geometry)
    load_s = time.monotonic() - load_started
    labels = ds.labels
    data_sha256 = fingerprint(ds)
    train_idx, val_idx = stratified_split(ds.train.labels, params.val_fraction, params.seed)
    norm = Normalization.fit(ds.train.images[train_idx])
    norm_info = {**norm.as_dict(), "scale": Exact(norm.scale)}  # outputs round floats to 6 places, not this one
    if checkpoint is not None:
        check_data(checkpoint, resume, {"labels": labels, "data_sha256": data_sha256, "normalization": norm.as_dict()})

    x_train = torch.from_numpy(ds.train.images[train_idx])
    y_train = torch.from_numpy(ds.train.labels[train_idx])
    x_test, y_test = torch.from_numpy(ds.test.images), torch.from_numpy(ds.test.labels)
    if len(val_idx):
        val_split = "train-holdout"
        x_val, y_val = torch.from_numpy(ds.train.images[val_idx]), torch.from_numpy(ds.train.labels[val_idx])
    else:
        val_split = "test"
        x_val, y_val = x_test, y_test

    emit(
        "start",
        trainer=f"{TRAINER_NAME}/{TRAINER_VERSION}",
        params=params.as_dict(),
        classes=len(labels),
        train_samples=len(y_train),
        val_samples=len(y_val),
        val_split=val_split,
        test_samples=len(y_test),
        normalization=norm_info,
        input=input_spec(geometry),
        load_s=load_s,
    )
    log(f"loaded {len(y_train)} train / {len(val_idx)} val / {len(y_test)} test images in {load_s:.1f} s; {labels}")

    # channels_last runs the small convolutions ~1.5x faster on CPU (oneDNN); exported as usual.
    model = SmallCNN(len(labels), in_channels=geometry.channels, image_size=geometry.size).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    steps_per_epoch = math.ceil(len(y_train) / params.batch_size)
    total_steps = params.epochs * steps_per_epoch
    # 25% warm-up; torch's OneCycleLR divides by zero when warm-up ends exactly at step 1 (4 steps in all).
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=params.learning_rate, total_steps=total_steps, pct_start=0.25 if total_steps != 4 else 0.3
    )
    generator = torch.Generator().manual_seed(params.seed)
    state = TrainingState(model=model, optimizer=optimizer, scheduler=scheduler, generator=generator)

    history: list[dict] = []
    step, first_epoch, prior_training_s = 0, 1, 0.0
    resumed_from = None
    if checkpoint is not None:
        restore(checkpoint, state)
        history, step = list(checkpoint["history"]), int(checkpoint["step"])
        first_epoch, prior_training_s = int(checkpoint["epoch"]) + 1, float(checkpoint["training_seconds"])
        resumed_from = {"path": str(resume.resolve()), "epoch": int(checkpoint["epoch"]), "step": step}
        emit("resume", from_epoch=int(checkpoint["epoch"]), epochs=params.epochs, step=step, path=str(resume.resolve()))
        log(f"resumed from {resume} after epoch {checkpoint['epoch']} (step {step})")

    train_started = time.monotonic()
    for epoch in range(first_epoch, params.epochs + 1):
        step, record = run_epoch(state, params, epoch, step, steps_per_epoch, norm, x_train, y_train, started)
        val = evaluate(model, x_val, y_val, norm)
        record.update(val_accuracy=val.accuracy, val_loss=val.loss, elapsed_s=time.monotonic() - started)
        history.append(record)
        emit("epoch", **record)
        path = checkpoint_path(out_dir, epoch).resolve()
        sha256 = save_checkpoint(
            path,
            state,
            {
                "trainer": f"{TRAINER_NAME}/{TRAINER_VERSION}",
                "epoch": epoch,
                "epochs": params.epochs,
                "step": step,
                "history": history,
                "training_seconds": prior_training_s + time.monotonic() - train_started,
                "params": params.as_dict(),
                "labels": labels,
                "normalization": norm.as_dict(),
                "input": input_spec(geometry),
                "data_sha256": data_sha256,
            },
        )
        emit("checkpoint", epoch=epoch, epochs=params.epochs, path=str(path), sha256=sha256)
    training_s = prior_training_s + time.monotonic() - train_started

    test = evaluate(model, x_test, y_test, norm)
    matrix = confusion_matrix(ds.test.labels, test.predictions, len(labels))
    confusion = confusion_json(matrix, labels, "test")
    write_json(out_dir / "confusion_matrix.json", confusion)
    draw_confusion_png(
        out_dir / "confusion_matrix.png",
        matrix,
        labels,
        f"Test split confusion matrix - accuracy {test.accuracy:.2%} (n={len(y_test)})",
    )

    # What live traffic is compared with for drift: the test split's inputs as the model sees them, and its answers.
    write_json(out_dir / "drift_reference.json", drift_reference(ds.test.images, test.probabilities, labels))

    golden_idx = choose_golden(ds.test.images, ds.test.labels, test.probabilities, len(labels))
    model = model.to(memory_format=torch.contiguous_format)
    golden = export_onnx(model, out_dir / "model.onnx", labels, norm, ds.test.images[golden_idx], geometry)
    log(f"exported {out_dir / 'model.onnx'} (golden test images {golden_idx}: {golden['expected_labels']})")

    last = history[-1]
    metrics = {
        "val_accuracy": last["val_accuracy"],
        "val_loss": last["val_loss"],
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "train_loss": last["loss"],
        "train_accuracy": last["train_accuracy"],
        "training_seconds": training_s,
        "val_split": val_split,
        "trainer_version": f"{TRAINER_NAME}/{TRAINER_VERSION}",
        "per_class_test_accuracy": confusion["per_class_accuracy"],
    }
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "history.json", history)
    write_json(
        out_dir / "run_info.json",
        {
            "trainer": f"{TRAINER_NAME}/{TRAINER_VERSION}",
            "params": params.as_dict(),
            "labels": labels,
            "normalization": norm_info,
            "input": input_spec(geometry),
            "samples": {"train": len(y_train), "val": len(val_idx), "test": len(y_test)},
            "val_split": val_split,
            "data_sha256": data_sha256,
            "golden_test_indices": golden_idx,
            "resumed_from": resumed_from,
            "timings_s": {"load": load_s, "train": training_s, "total": time.monotonic() - started},
            "environment": environment(),
            # Kept for readers of the 0.1.0 layout; the same values are in `environment`.
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
    )
    metrics["total_seconds"] = time.monotonic() - started
    emit("done", **metrics, model=str(out_dir / "model.onnx"))
    return metrics


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Idle OpenMP threads sleep instead of spinning: the trainer shares a small machine with the rest
    # of the stack, and spinning threads there double the CPU time per step (measured: 40 s vs 21 s
    # user time for the same epoch). Must be set before torch (libgomp) loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        params = load_params(args.params) if args.params else Params()
        if not args.data.is_dir():
            raise TrainerInputError(f"dataset directory not found: {args.data}")
        if args.resume is not None and not args.resume.is_file():
            raise TrainerInputError(f"checkpoint not found: {args.resume}")
        train(args.data, params, args.out, args.resume)
        return 0
    except TrainerInputError as exc:
        reason = " ".join(str(exc).split("\n"))  # the last stderr line is the whole reason
        sys.stderr.write(f"error: {reason}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - any other failure: traceback, then a one-line summary last
        traceback.print_exc(file=sys.stderr)
        sys.stderr.write(f"error: training failed: {type(exc).__name__}: {exc}\n")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
