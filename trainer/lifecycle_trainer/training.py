"""One training epoch (the loop body of train.py), with its progress events."""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from .checkpoint import TrainingState
from .model import Normalization, augment_batch
from .params import Params
from .report import emit


def run_epoch(
    state: TrainingState,
    params: Params,
    epoch: int,
    step: int,
    steps_per_epoch: int,
    norm: Normalization,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    started: float,
) -> tuple[int, dict]:
    """Trains one pass over x_train in a seeded order; returns the new global step and the epoch record.

    Every random draw comes from `state.generator` (batch order, augmentation) or torch's global RNG
    (dropout), both of which a checkpoint saves, so a resumed run draws the same numbers.
    """
    model, optimizer, scheduler = state.model, state.optimizer, state.scheduler
    model.train()
    order = torch.randperm(len(y_train), generator=state.generator)
    epoch_loss = epoch_correct = 0.0
    window_loss, window_steps = 0.0, 0
    for i in range(steps_per_epoch):
        idx = order[i * params.batch_size : (i + 1) * params.batch_size]
        pixels = x_train[idx]
        if params.augment:
            pixels = augment_batch(pixels, state.generator)
        targets = y_train[idx]
        logits = model(norm.apply(pixels).contiguous(memory_format=torch.channels_last))
        loss = F.cross_entropy(logits, targets, label_smoothing=params.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise RuntimeError(f"training diverged at epoch {epoch} step {step} (loss {loss_value}); lower learning_rate")
        epoch_loss += loss_value * len(idx)
        epoch_correct += float((logits.argmax(dim=1) == targets).sum())
        window_loss += loss_value
        window_steps += 1
        if step % params.progress_every == 0:
            emit(
                "progress",
                epoch=epoch,
                epochs=params.epochs,
                step=step,
                steps_per_epoch=steps_per_epoch,
                loss=window_loss / window_steps,
                lr=scheduler.get_last_lr()[0],
                elapsed_s=time.monotonic() - started,
            )
            window_loss, window_steps = 0.0, 0
    record = {
        "epoch": epoch,
        "epochs": params.epochs,
        "step": step,
        "loss": epoch_loss / len(y_train),
        "train_accuracy": epoch_correct / len(y_train),
    }
    return step, record
