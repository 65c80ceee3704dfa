"""Digit classification: [n, 28, 28] images (or one uploaded picture) in, class probabilities out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from app.errors import InputError, PayloadTooLarge
from app.processing.images import ImageError, ImageTooLarge, image_to_mnist
from app.repository.manifest import Manifest, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks.base import TaskModel
from app.tasks.contract import Input
from app.tensors import Tensor

DIGIT_EXAMPLE: Any = json.loads((Path(__file__).parent / "examples" / "digit.json").read_text())

class DigitPrediction(BaseModel):
    digit: int
    confidence: float
    probabilities: list[float] = Field(description="Probability of each digit 0..9.")


class DigitResponse(BaseModel):
    model: str
    version: int
    predictions: list[DigitPrediction]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities


def check_images(images: np.ndarray) -> np.ndarray:
    """Images [n, 28, 28] (as the declaration's checks give them) -> float32 in [0, 1], or an InputError
    naming the first image with a pixel outside."""
    images = images.astype(np.float32, copy=False)
    # The bounds alone decide (NaN fails both comparisons); a bad array is described only once found.
    low, high = images.min(), images.max()
    if not (low >= 0.0 and high <= 1.0):
        if not np.isfinite(images).all():
            index = int(np.argwhere(~np.isfinite(images))[0][0])
            raise InputError(f"images[{index}] contains NaN or infinity")
        index = int(np.argwhere((images < 0) | (images > 1))[0][0])
        raise InputError(f"images[{index}] has pixel values outside [0, 1] (scale 0..255 images by 1/255)")
    return images


class DigitModel(TaskModel[np.ndarray, np.ndarray]):
    """Payload: float32 images [n, 28, 28]; result: probabilities [n, 10]."""

    task = "digit"
    route = "/predict/digit"
    summary = "Classify 28x28 digit images"
    default_model = "digit"
    response_model = DigitResponse
    INPUTS = (Input("images", "FP32", (-1, 28, 28), "28x28 images, pixel values in [0, 1], ink high (MNIST "
                    "polarity).", items="max_items", low=0.0, high=1.0),)
    OUTPUTS = (TensorSpec(name="probabilities", datatype="FP32", shape=[-1, 10]),
               TensorSpec(name="digit", datatype="INT64", shape=[-1]))
    EXAMPLE: ClassVar[dict[str, Any]] = {"images": [DIGIT_EXAMPLE]}
    upload_route = "/predict/digit/image"
    upload_summary = "Classify an uploaded picture of a digit (PNG, JPEG, ... of any size; dark ink on light paper)"

    def __init__(self, manifest: Manifest, backend: Backend, settings: Settings) -> None:
        super().__init__(manifest, backend, settings)
        # Any graph taking [B, 28, 28] images to [B, 10] logits serves, whatever its tensors are called.
        self.input_name = self.manifest.artifacts["model"].inputs[0].name

    def payload(self, values: dict[str, Any]) -> np.ndarray:
        return check_images(values["images"])

    def parse_upload(self, data: bytes) -> np.ndarray:
        """An uploaded picture (any size, dark ink on light paper works) -> a one-image payload."""
        if not data:
            raise InputError("uploaded file is empty")
        try:
            return image_to_mnist(data, self.settings.max_image_pixels)[None]
        except ImageTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from None
        except ImageError as exc:
            raise InputError(str(exc)) from None

    def answer_json(self, result: np.ndarray) -> dict[str, Any]:
        digits = result.argmax(axis=1)
        return {"predictions": [
            {"digit": int(d), "confidence": float(p[d]), "probabilities": p}
            for d, p in zip(digits.tolist(), result, strict=True)
        ]}

    def answer_tensors(self, result: np.ndarray) -> list[Tensor]:
        probabilities = np.asarray(result, dtype=np.float32)
        digits = probabilities.argmax(axis=1).astype(np.int64)
        return [Tensor("probabilities", "FP32", list(probabilities.shape), probabilities),
                Tensor("digit", "INT64", [len(digits)], digits)]

    def size(self, payload: np.ndarray) -> int:
        return len(payload)

    def split(self, payload: np.ndarray, most: int) -> list[np.ndarray]:
        return [payload[i : i + most] for i in range(0, len(payload), most)]

    def join(self, results: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(results)

    def run_batch(self, payloads: list[np.ndarray]) -> list[np.ndarray]:
        images = payloads[0] if len(payloads) == 1 else np.concatenate(payloads)
        probabilities = softmax(self.backend.run("model", {self.input_name: images})[0].astype(np.float64))
        return np.split(probabilities, np.cumsum([len(p) for p in payloads])[:-1])

    def warmup_payloads(self, batch_sizes: list[int]) -> list[np.ndarray]:
        rng = np.random.default_rng(0)
        return [rng.random((n, 28, 28), dtype=np.float32) for n in batch_sizes]


SIGNATURE = DigitModel.declared_signature()
