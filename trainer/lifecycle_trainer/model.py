"""The CNN, input normalisation, augmentation and evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SCALE = 1.0 / 255.0


class SmallCNN(nn.Module):
    """Two conv blocks (conv 3x3, max-pool 2, batch-norm, ReLU), dropout, a 64-unit hidden layer, linear.

    Pooling right after each convolution (instead of conv-bn-relu-pool) runs batch-norm and ReLU
    on 4x fewer values: ~35% less CPU per step at the same accuracy. ~106k parameters.
    """

    def __init__(self, num_classes: int, c1: int = 16, c2: int = 32, hidden: int = 64, dropout: float = 0.25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1, bias=False),
            nn.MaxPool2d(2),  # 14x14
            nn.BatchNorm2d(c1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c1, c2, 3, padding=1, bias=False),
            nn.MaxPool2d(2),  # 7x7
            nn.BatchNorm2d(c2),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c2 * 7 * 7, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class Normalization:
    """x = (pixel * scale - mean) / std, the contract recorded in lifecycle.normalization."""

    mean: float
    std: float
    scale: float = SCALE

    @staticmethod
    def fit(images: np.ndarray) -> "Normalization":
        """Mean/std of the training pixels, rounded to 4 decimals so the metadata stays readable."""
        x = images.astype(np.float64) * SCALE
        return Normalization(mean=round(float(x.mean()), 4), std=round(max(float(x.std()), 1e-4), 4))

    def apply(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 [N,H,W] or [N,1,H,W] -> float32 [N,1,H,W], same float32 arithmetic as serving."""
        x = pixels.to(torch.float32)
        if x.dim() == 3:
            x = x.unsqueeze(1)
        return (x * torch.tensor(self.scale, dtype=torch.float32) - torch.tensor(self.mean, dtype=torch.float32)) / torch.tensor(
            self.std, dtype=torch.float32
        )


def augment_batch(pixels: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random horizontal flips and +-max_shift px translations (zero fill) of a uint8 [N,H,W] batch."""
    n, h, w = pixels.shape
    flip = torch.rand(n, generator=generator) < 0.5
    pixels = torch.where(flip[:, None, None], pixels.flip(-1), pixels)
    padded = F.pad(pixels, (max_shift, max_shift, max_shift, max_shift))
    oy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    ox = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (oy[:, None] + torch.arange(h))[:, :, None]
    cols = (ox[:, None] + torch.arange(w))[:, None, :]
    return padded[torch.arange(n)[:, None, None], rows, cols]


@dataclass
class Evaluation:
    loss: float
    accuracy: float
    predictions: np.ndarray  # int64 [N]
    probabilities: np.ndarray  # float32 [N, C]


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, norm: Normalization, batch_size: int = 1000) -> Evaluation:
    model.eval()
    total_loss = 0.0
    preds, probs = [], []
    for start in range(0, len(labels), batch_size):
        x = norm.apply(images[start : start + batch_size])
        y = labels[start : start + batch_size]
        logits = model(x)
        total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
        p = torch.softmax(logits, dim=1)
        probs.append(p.numpy())
        preds.append(p.argmax(dim=1).numpy())
    n = max(1, len(labels))
    predictions = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    accuracy = float((predictions == labels.numpy()).mean()) if len(labels) else 0.0
    return Evaluation(
        loss=total_loss / n,
        accuracy=accuracy,
        predictions=predictions,
        probabilities=np.concatenate(probs) if probs else np.zeros((0, 0), np.float32),
    )
