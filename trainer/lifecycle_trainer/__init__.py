"""Lifecycle's default trainer: a small CNN for grayscale or RGB images, exported to ONNX."""

TRAINER_NAME = "lifecycle-cnn"
TRAINER_VERSION = "0.2.0"


class TrainerInputError(Exception):
    """Bad input (dataset, params, arguments): the run cannot succeed on retry. Exit code 2."""
