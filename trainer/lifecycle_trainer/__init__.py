"""Lifecycle's default trainer: a small CNN for 28x28 grayscale images, exported to ONNX."""

TRAINER_NAME = "lifecycle-cnn"
TRAINER_VERSION = "0.1.0"


class TrainerInputError(Exception):
    """Bad input (dataset, params, arguments): the run cannot succeed on retry. Exit code 2."""
