"""Each task's V2 tensors: what its inputs and outputs are called, and how they map to task payloads."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.repository.registry import ModelVersion
from app.settings import Settings
from app.tasks.base import InputError
from app.tasks.digit import DigitModel, check_images
from app.tasks.sine import SineModel
from app.tasks.translate import TranslateModel, Translation
from app.v2.codec import Tensor

SIGNATURES: dict[str, dict[str, list[dict[str, Any]]]] = {
    "digit": {
        "inputs": [{"name": "images", "datatype": "FP32", "shape": [-1, 28, 28]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
                    {"name": "digit", "datatype": "INT64", "shape": [-1]}],
    },
    "sine": {
        "inputs": [{"name": "series", "datatype": "FP32", "shape": [-1, -1]},
                   {"name": "horizon", "datatype": "INT64", "shape": [1], "optional": True}],
        "outputs": [{"name": "forecast", "datatype": "FP32", "shape": [-1, -1]}],
    },
    "translate": {
        "inputs": [{"name": "texts", "datatype": "BYTES", "shape": [-1]},
                   {"name": "beam_size", "datatype": "INT64", "shape": [1], "optional": True}],
        "outputs": [{"name": "translations", "datatype": "BYTES", "shape": [-1]},
                    {"name": "scores", "datatype": "FP32", "shape": [-1]}],
    },
}


def _scalar(inputs: dict[str, Tensor], name: str, default: int) -> int:
    tensor = inputs.get(name)
    if tensor is None:
        return default
    if not isinstance(tensor.data, np.ndarray) or tensor.data.size != 1 or tensor.data.dtype.kind not in "iu":
        raise InputError(f"input {name!r} must be one integer")
    return int(tensor.data.ravel()[0])


def _only_known(inputs: dict[str, Tensor], task: str) -> None:
    known = {spec["name"] for spec in SIGNATURES[task]["inputs"]}
    unknown = sorted(set(inputs) - known)
    if unknown:
        raise InputError(f"unknown input(s) {unknown}; expected {sorted(known)}")


def to_payload(entry: ModelVersion, inputs: dict[str, Tensor], settings: Settings) -> Any:
    """V2 inputs -> the same payload the typed endpoint builds, with the same checks and limits."""
    model = entry.model
    if isinstance(model, DigitModel):
        if len(inputs) == 1:  # a lone image tensor, whatever a client calls it
            tensor = next(iter(inputs.values()))
        else:
            _only_known(inputs, "digit")
            tensor = inputs["images"]
        if not isinstance(tensor.data, np.ndarray) or tensor.data.dtype.kind != "f":
            raise InputError("images must be FP32")
        return check_images(tensor.data, settings.max_items)
    if isinstance(model, SineModel):
        _only_known(inputs, "sine")
        series = inputs.get("series")
        if series is None or not isinstance(series.data, np.ndarray) or series.data.ndim != 2:
            raise InputError("input 'series' must be an FP32 tensor of shape [n, length]")
        rows = series.data.astype(np.float64).tolist()
        return model.check(rows, _scalar(inputs, "horizon", 16), settings.max_items, settings.max_series_length)
    if isinstance(model, TranslateModel):
        _only_known(inputs, "translate")
        texts = inputs.get("texts")
        if texts is None or not isinstance(texts.data, list):
            raise InputError("input 'texts' must be a BYTES tensor")
        try:
            decoded = [t.decode("utf-8") for t in texts.data]
        except UnicodeDecodeError:
            raise InputError("input 'texts' must be UTF-8") from None
        return model.check(decoded, _scalar(inputs, "beam_size", 1), settings.max_items)
    raise InputError(f"model {entry.key} has no V2 signature")


def to_outputs(entry: ModelVersion, result: Any) -> list[Tensor]:
    task = entry.manifest.task if entry.manifest else ""
    if task == "digit":
        probabilities = np.asarray(result, dtype=np.float32)
        digits = probabilities.argmax(axis=1).astype(np.int64)
        return [Tensor("probabilities", "FP32", list(probabilities.shape), probabilities),
                Tensor("digit", "INT64", [len(digits)], digits)]
    if task == "sine":
        forecast = np.stack(result).astype(np.float32)
        return [Tensor("forecast", "FP32", list(forecast.shape), forecast)]
    translations: list[Translation] = result
    scores = np.array([t.score for t in translations], dtype=np.float32)
    return [Tensor("translations", "BYTES", [len(translations)], [t.text.encode() for t in translations]),
            Tensor("scores", "FP32", [len(scores)], scores)]
