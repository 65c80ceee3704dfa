"""Typed prediction endpoints: /predict/digit, /predict/digit/image, /predict/sine, /predict/translate."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, File, Query, Request, UploadFile

from app.processing.images import image_to_mnist
from app.repository.registry import ModelVersion, Registry
from app.rest.body import json_body, read_json_object, reject_unknown, require
from app.rest.deps import Authorized, RegistryDep, SettingsDep
from app.rest.responses import FastJSONResponse
from app.rest.schemas import DigitRequest, DigitResponse, SineRequest, SineResponse, TranslateRequest, TranslateResponse
from app.settings import Settings
from app.tasks.base import InputError
from app.tasks.digit import check_images
from app.tasks.sine import SineModel
from app.tasks.translate import TranslateModel

router = APIRouter(prefix="/predict", tags=["predict"], dependencies=[Authorized])

VersionQuery = Annotated[int | None, Query(ge=1, description="Model version; default the newest loaded.")]
DigitModelQuery = Annotated[str, Query(description="Name of a digit model in the repository.")]
SineModelQuery = Annotated[str, Query(description="Name of a sine model in the repository.")]


async def infer(request: Request, entry: ModelVersion, payload: Any, settings: Settings) -> Any:
    assert entry.batcher is not None
    request.state.model = entry.key  # for the request metrics
    return await entry.batcher.submit(payload, settings.request_timeout_s)


def digit_answer(entry: ModelVersion, probabilities: np.ndarray) -> FastJSONResponse:
    digits = probabilities.argmax(axis=1)
    predictions = [
        {"digit": int(d), "confidence": float(p[d]), "probabilities": p}
        for d, p in zip(digits.tolist(), probabilities, strict=True)
    ]
    return FastJSONResponse({"model": entry.name, "version": entry.version, "predictions": predictions})


# The JSON handlers take plain arguments, so the fast path (app/rest/fastpath.py) serves them too.


async def digit(request: Request, registry: Registry, settings: Settings, version: int | None,
                model: str = "digit") -> FastJSONResponse:
    body = await read_json_object(request)
    reject_unknown(body, DigitRequest)
    images = check_images(require(body, "images"), settings.max_items)
    entry = registry.get(model, version, task="digit")
    return digit_answer(entry, await infer(request, entry, images, settings))


@router.post("/digit/image", response_model=DigitResponse, summary="Classify an uploaded picture of a digit")
async def predict_digit_image(
    request: Request, registry: RegistryDep, settings: SettingsDep,
    file: Annotated[UploadFile, File(description="PNG, JPEG, ... of any size; dark ink on light paper works.")],
    version: VersionQuery = None, model: DigitModelQuery = "digit",
) -> FastJSONResponse:
    entry = registry.get(model, version, task="digit")
    data = await file.read()
    if not data:
        raise InputError("uploaded file is empty")
    image = await asyncio.to_thread(image_to_mnist, data, settings.max_image_pixels)
    return digit_answer(entry, await infer(request, entry, image[None], settings))


async def sine(request: Request, registry: Registry, settings: Settings, version: int | None,
               model: str = "sine") -> FastJSONResponse:
    body = await read_json_object(request)
    reject_unknown(body, SineRequest)
    entry = registry.get(model, version, task="sine")
    assert isinstance(entry.model, SineModel)
    payload = entry.model.check(require(body, "series"), body.get("horizon", 16), settings.max_items,
                                settings.max_series_length)
    forecasts = await infer(request, entry, payload, settings)
    return FastJSONResponse({"model": entry.name, "version": entry.version, "forecasts": forecasts})


async def translate(request: Request, registry: Registry, settings: Settings, version: int | None,
                    model: str = "") -> FastJSONResponse:
    body = await read_json_object(request)
    reject_unknown(body, TranslateRequest)
    name = body.get("model", "dates")
    if not isinstance(name, str):
        raise InputError("'model' must be a string")
    entry = registry.get(name, version, task="translate")
    assert isinstance(entry.model, TranslateModel)
    payload = entry.model.check(require(body, "texts"), body.get("beam_size", 1), settings.max_items)
    translations = await infer(request, entry, payload, settings)
    return FastJSONResponse({
        "model": entry.name, "version": entry.version,
        "translations": [
            {"text": t.text, "score": t.score, "beams": [{"text": b, "score": s} for b, s in t.beams]}
            for t in translations
        ],
    })


@router.post("/digit", response_model=DigitResponse, openapi_extra=json_body(DigitRequest),
             summary="Classify 28x28 digit images")
async def predict_digit(
    request: Request, registry: RegistryDep, settings: SettingsDep,
    version: VersionQuery = None, model: DigitModelQuery = "digit",
) -> FastJSONResponse:
    return await digit(request, registry, settings, version, model)


@router.post("/sine", response_model=SineResponse, openapi_extra=json_body(SineRequest),
             summary="Forecast noisy sinusoids")
async def predict_sine(
    request: Request, registry: RegistryDep, settings: SettingsDep,
    version: VersionQuery = None, model: SineModelQuery = "sine",
) -> FastJSONResponse:
    return await sine(request, registry, settings, version, model)


@router.post("/translate", response_model=TranslateResponse, openapi_extra=json_body(TranslateRequest),
             summary="Translate texts character by character (dates to ISO 8601, words)")
async def predict_translate(
    request: Request, registry: RegistryDep, settings: SettingsDep, version: VersionQuery = None
) -> FastJSONResponse:
    return await translate(request, registry, settings, version)
