"""Digit classification: [n, 28, 28] images (or one uploaded picture) in, class probabilities out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from app.errors import InputError, PayloadTooLarge
from app.processing.images import ImageError, ImageTooLarge, image_to_mnist
from app.repository.manifest import Manifest, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks.base import Signature, TaskModel, require
from app.tensors import Tensor

DIGIT_EXAMPLE: Any = json.loads((Path(__file__).parent / "examples" / "digit.json").read_text())

SIGNATURE = Signature(
    inputs=[TensorSpec(name="images", datatype="FP32", shape=[-1, 28, 28])],
    outputs=[TensorSpec(name="probabilities", datatype="FP32", shape=[-1, 10]),
             TensorSpec(name="digit", datatype="INT64", shape=[-1])],
)


class DigitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"images": [DIGIT_EXAMPLE]}]})

    images: list[list[list[float]]] = Field(
        description="28x28 images, pixel values in [0, 1], ink high (MNIST polarity).", min_length=1
    )


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


def _describe(image: Any) -> str:
    if not isinstance(image, list):
        return type(image).__name__
    rows = [len(row) if isinstance(row, list) else type(row).__name__ for row in image[:28]]
    return f"{len(image)} rows of lengths {rows}" if image else "an empty list"


def check_images(raw: Any, max_items: int) -> np.ndarray:
    """JSON-decoded `images` (or an array from a tensor) -> float32 [n, 28, 28] in [0, 1], or an
    InputError saying what is wrong."""
    images = _array_images(raw) if isinstance(raw, np.ndarray) else _list_images(raw)
    if len(images) == 0:
        raise InputError("'images' is empty; send at least one image")
    if len(images) > max_items:
        raise InputError(f"'images' has {len(images)} images; at most {max_items} per request")
    # The bounds alone decide (NaN fails both comparisons); a bad array is described only once found.
    low, high = images.min(), images.max()
    if not (low >= 0.0 and high <= 1.0):
        if not np.isfinite(images).all():
            index = int(np.argwhere(~np.isfinite(images))[0][0])
            if isinstance(raw, list) and any(value is None for row in raw[index] for value in row):
                raise InputError(f"images[{index}] must contain only numbers, found null")  # numpy reads null as NaN
            raise InputError(f"images[{index}] contains NaN or infinity")
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
    """Payload: float32 images [n, 28, 28]; result: probabilities [n, 10]."""

    task = "digit"
    route = "/predict/digit"
    summary = "Classify 28x28 digit images"
    default_model = "digit"
    response_model = DigitResponse
    json_arrays: ClassVar[dict[str, tuple[int, ...]]] = {"images": (28, 28)}
    upload_route = "/predict/digit/image"
    upload_summary = "Classify an uploaded picture of a digit (PNG, JPEG, ... of any size; dark ink on light paper)"

    def __init__(self, manifest: Manifest, backend: Backend, settings: Settings) -> None:
        super().__init__(manifest, backend, settings)
        # Any graph taking [B, 28, 28] images to [B, 10] logits serves, whatever its tensors are called.
        self.input_name = self.manifest.artifacts["model"].inputs[0].name

    @classmethod
    def request_model(cls, model: TaskModel[Any, Any] | None) -> type[BaseModel]:
        return DigitRequest

    def parse_json(self, body: dict[str, Any]) -> np.ndarray:
        self.reject_unknown(body)
        return check_images(require(body, "images"), self.max_items)

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

    def signature(self) -> Signature:
        return SIGNATURE

    def parse_tensors(self, inputs: dict[str, Tensor]) -> np.ndarray:
        if len(inputs) == 1:  # a lone image tensor, whatever a client calls it
            tensor = next(iter(inputs.values()))
        else:
            self.only_known(inputs)
            tensor = inputs["images"]
        if not isinstance(tensor.data, np.ndarray) or tensor.data.dtype.kind != "f":
            raise InputError("images must be FP32")
        return check_images(tensor.data, self.max_items)

    def answer_tensors(self, result: np.ndarray) -> list[Tensor]:
        probabilities = np.asarray(result, dtype=np.float32)
        digits = probabilities.argmax(axis=1).astype(np.int64)
        return [Tensor("probabilities", "FP32", list(probabilities.shape), probabilities),
                Tensor("digit", "INT64", [len(digits)], digits)]

    def size(self, payload: np.ndarray) -> int:
        return len(payload)

    def run_batch(self, payloads: list[np.ndarray]) -> list[np.ndarray]:
        images = payloads[0] if len(payloads) == 1 else np.concatenate(payloads)
        probabilities = softmax(self.backend.run("model", {self.input_name: images})[0].astype(np.float64))
        return np.split(probabilities, np.cumsum([len(p) for p in payloads])[:-1])

    def warmup_payloads(self, batch_sizes: list[int]) -> list[np.ndarray]:
        rng = np.random.default_rng(0)
        return [rng.random((n, 28, 28), dtype=np.float32) for n in batch_sizes]
