"""Digit classification: [n, 28, 28] images in, class probabilities out."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.tasks.base import InputError, TaskModel


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities


def _describe(image: Any) -> str:
    if not isinstance(image, list):
        return type(image).__name__
    rows = [len(row) if isinstance(row, list) else type(row).__name__ for row in image[:28]]
    return f"{len(image)} rows of lengths {rows}" if image else "an empty list"


def check_images(raw: Any, max_items: int) -> np.ndarray:
    """JSON-decoded `images` (or an array from a binary tensor) -> float32 [n, 28, 28] in [0, 1], or an
    InputError saying what is wrong."""
    images = _array_images(raw) if isinstance(raw, np.ndarray) else _list_images(raw)
    if len(images) == 0:
        raise InputError("'images' is empty; send at least one image")
    if len(images) > max_items:
        raise InputError(f"'images' has {len(images)} images; at most {max_items} per request")
    if not np.isfinite(images).all():
        index = int(np.argwhere(~np.isfinite(images))[0][0])
        if isinstance(raw, list) and any(value is None for row in raw[index] for value in row):
            raise InputError(f"images[{index}] must contain only numbers, found null")  # numpy reads null as NaN
        raise InputError(f"images[{index}] contains NaN or infinity")
    if images.min() < 0.0 or images.max() > 1.0:
        index = int(np.argwhere((images < 0) | (images > 1))[0][0])
        raise InputError(f"images[{index}] has pixel values outside [0, 1] (scale 0..255 images by 1/255)")
    return images


def _array_images(raw: np.ndarray) -> np.ndarray:
    if raw.ndim != 3 or raw.shape[1:] != (28, 28):
        raise InputError(f"images must have shape [n, 28, 28], got {list(raw.shape)}")
    return raw.astype(np.float32, copy=False)


def _list_images(raw: Any) -> np.ndarray:
    if not isinstance(raw, list):
        raise InputError("'images' must be a list of 28x28 images (lists of 28 rows of 28 numbers)")
    if not raw:
        raise InputError("'images' is empty; send at least one image")
    try:
        images = np.asarray(raw, dtype=np.float32)
    except (ValueError, TypeError, OverflowError):
        images = None
    if images is None or images.ndim != 3 or images.shape[1:] != (28, 28):
        for index, image in enumerate(raw):
            if not isinstance(image, list) or len(image) != 28 or any(
                not isinstance(row, list) or len(row) != 28 for row in image
            ):
                raise InputError(f"images[{index}] must be 28 rows of 28 numbers, got {_describe(image)}")
        raise InputError("'images' must contain only numbers")
    return images


class DigitModel(TaskModel[np.ndarray, np.ndarray]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any graph taking [B, 28, 28] images to [B, 10] logits serves, whatever its tensors are called.
        graph = self.manifest.artifacts["model"]
        self.input_name = graph.inputs[0].name

    def size(self, payload: np.ndarray) -> int:
        return len(payload)

    def predict_batch(self, payloads: list[np.ndarray]) -> list[np.ndarray]:
        images = payloads[0] if len(payloads) == 1 else np.concatenate(payloads)
        probabilities = softmax(self.backend.run("model", {self.input_name: images})[0].astype(np.float64))
        return np.split(probabilities, np.cumsum([len(p) for p in payloads])[:-1])

    def warmup_payloads(self, batch_sizes: list[int]) -> list[np.ndarray]:
        rng = np.random.default_rng(0)
        return [rng.random((n, 28, 28), dtype=np.float32) for n in batch_sizes]
