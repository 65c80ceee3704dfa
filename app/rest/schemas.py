"""Request and response bodies as typed models: they document the API in OpenAPI, with working examples."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DIGIT_EXAMPLE: Any = json.loads((Path(__file__).parent / "examples" / "digit.json").read_text())
SINE_EXAMPLE: Any = [round(2.0 * math.sin(0.15 * t) + 1.0, 3) for t in range(64)]


class DigitRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"images": [DIGIT_EXAMPLE]}]})

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


class SineRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"series": [SINE_EXAMPLE], "horizon": 16}]})

    series: list[list[float]] = Field(
        description="Histories, oldest value first; each at least 16 values (the model reads the last 256).",
        min_length=1,
    )
    horizon: int = Field(16, ge=1, le=64, description="How many future values to forecast.")


class SineResponse(BaseModel):
    model: str
    version: int
    forecasts: list[list[float]]


class TranslateRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"texts": ["3 March 1998", "Tuesday, 3 mars 1998", "03/03/98"],
                                         "model": "dates", "beam_size": 1}]}
    )

    texts: list[str] = Field(description="Texts to translate.", min_length=1)
    model: str = Field("dates", description="Translator model: 'dates' (to ISO 8601) or 'words'.")
    beam_size: int = Field(1, ge=1, le=8, description="1 decodes greedily; more runs beam search.")


class Beam(BaseModel):
    text: str
    score: float


class Translation(BaseModel):
    text: str
    score: float = Field(description="Log-probability of the output (end-of-text included); 0 is certain.")
    beams: list[Beam] = Field(description="Every hypothesis of the beam search, best first.")


class TranslateResponse(BaseModel):
    model: str
    version: int
    translations: list[Translation]


class ModelInfo(BaseModel):
    name: str
    version: int
    state: str
    reason: str = ""
    task: str | None = None
    description: str | None = None
    backend: str | None = None
    provider: str | None = Field(None, description="The execution provider really running the graphs.")
    warnings: list[str] = []
    metrics: dict[str, Any] = {}
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    load_seconds: float | None = None


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    problems: list[str] = Field(description="Repository-level problems (missing directory, absent model).")


class Readiness(BaseModel):
    status: str
    models: dict[str, str]
    problems: list[str]
