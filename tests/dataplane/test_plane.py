"""The data plane without any protocol: versions, calls recorded once, lookup before decoding, streams."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from app.batching.activity import Activity
from app.dataplane import Calls, DataPlane, Inference, parse_version
from app.errors import InputError, ModelNotFound, QueueFull
from app.metrics import Metrics
from app.repository.control import ModelControl
from app.repository.registry import Registry
from app.settings import Settings
from app.tasks import TASKS
from app.tasks.digit import DIGIT_EXAMPLE
from app.tensors import Tensor
from tests.conftest import MODELS, request_counts


@pytest.mark.parametrize(("raw", "version"), [(None, None), ("", None), ("3", 3), (3, 3), ("12", 12)])
def test_versions_any_protocol_sends(raw: Any, version: int | None) -> None:
    assert parse_version(raw) == version


@pytest.mark.parametrize("raw", ["0", 0, "-1", "x", "1.5", "\u00b9", " 1", True, 2.0])
def test_what_can_never_name_a_version_is_bad_input(raw: Any) -> None:
    with pytest.raises(InputError, match="version must be an integer >= 1"):
        parse_version(raw)


def requests(metrics: Metrics) -> dict[tuple[str, ...], float]:
    return request_counts(metrics.render().decode(), "protocol", "route", "model", "version", "outcome")


def test_a_call_is_recorded_once_with_its_outcome_and_leaves_the_activity() -> None:
    metrics, activity = Metrics(), Activity()
    calls = Calls(metrics, activity)
    call = calls.open("p", "r", sole_connection=True)
    assert activity.requests == 1 and activity.sole_connection
    call.found("digit", 1)
    call.finish()
    call.finish("internal")  # a second finish changes nothing
    with pytest.raises(QueueFull), calls.open("p", "r") as failing:
        failing.found("digit", 1)
        raise QueueFull("full")
    with pytest.raises(asyncio.CancelledError), calls.open("p", "r"):
        raise asyncio.CancelledError
    assert activity.requests == 0
    assert requests(metrics) == {("p", "r", "digit", "1", "ok"): 1, ("p", "r", "digit", "1", "unavailable"): 1,
                                 ("p", "r", "", "", "cancelled"): 1}


def with_plane(scenario: Callable[[DataPlane], Awaitable[None]]) -> None:
    """Run `scenario` against a data plane over the committed digit and sine_stream models."""
    async def run() -> None:
        settings = Settings(model_dir=MODELS, models="digit,sine_stream", device="cpu", warmup=False, grpc_port=0)
        metrics = Metrics()
        registry = Registry(settings, metrics, Activity())
        plane = DataPlane(registry, ModelControl(registry, settings), settings, metrics)
        await registry.load_all()
        try:
            await scenario(plane)
        finally:
            await registry.close()

    asyncio.run(run())


def test_predict_names_the_version_that_answered() -> None:
    async def scenario(plane: DataPlane) -> None:
        with plane.call("test", "predict") as call:
            answer = await plane.predict(TASKS["digit"], {"images": [DIGIT_EXAMPLE]}, None, None, call)
        assert (answer["model"], answer["version"], answer["predictions"][0]["digit"]) == ("digit", 1, 7)
        assert (call.model, call.version) == ("digit", "1")
        with pytest.raises(ModelNotFound):
            await plane.predict(TASKS["digit"], {"images": [DIGIT_EXAMPLE]}, None, "9")
        with pytest.raises(InputError):
            await plane.predict(TASKS["digit"], {"images": [DIGIT_EXAMPLE]}, None, "0")

    with_plane(scenario)


def test_infer_finds_the_model_before_decoding_and_returns_the_outputs_asked_for() -> None:
    async def scenario(plane: DataPlane) -> None:
        decoded: list[bool] = []

        def decode() -> Inference:
            decoded.append(True)
            images = np.asarray([DIGIT_EXAMPLE], dtype=np.float32)
            return Inference({"images": Tensor("images", "FP32", [1, 28, 28], images)}, ["digit"])

        with pytest.raises(ModelNotFound):
            await plane.infer("nope", None, decode)
        assert decoded == []
        entry, outputs = await plane.infer("digit", "1", decode)
        assert entry.key == "digit/1" and [t.name for t in outputs] == ["digit"] and int(outputs[0].data[0]) == 7

    with_plane(scenario)


def test_a_stream_moves_on_only_when_its_step_ran() -> None:
    async def scenario(plane: DataPlane) -> None:
        stream = plane.open_stream(TASKS["sine_stream"], None, None)
        first = await plane.stream_step(stream, {"values": [0.1, 0.2], "horizon": 3})
        assert first["observed"] == 2 and len(first["forecast"]) == 3
        state = stream.state
        with pytest.raises(InputError, match="only in the first frame"):
            await plane.stream_step(stream, {"values": [0.3], "state": first["state"]})
        with pytest.raises(InputError):
            await plane.stream_step(stream, {"values": ["x"]})
        assert stream.state is state
        assert (await plane.stream_step(stream, {"values": [0.3]}))["observed"] == 3

    with_plane(scenario)


def test_metadata_config_and_statistics_come_from_the_serving_table() -> None:
    async def scenario(plane: DataPlane) -> None:
        assert plane.readiness().ready and plane.model_ready("digit") and not plane.model_ready("digit", "2")
        assert plane.model_metadata("digit")["versions"] == ["1"]
        assert plane.model_config("digit", "1")["name"] == "digit"
        assert [s["name"] for s in plane.statistics()["model_stats"]] == ["digit", "sine_stream"]
        with pytest.raises(ModelNotFound):
            plane.statistics("nope")
        with pytest.raises(InputError):
            plane.model_metadata("digit", "x")

    with_plane(scenario)


def test_a_request_cancelled_while_queued_never_runs_and_counts_as_cancelled() -> None:
    async def scenario(plane: DataPlane) -> None:
        batcher = plane.find("digit").batcher
        assert batcher is not None
        original, running, release, runs = batcher._run_batch, threading.Event(), threading.Event(), []

        def held(payloads: list[Any]) -> list[Any]:
            runs.append(len(payloads))
            running.set()
            release.wait(5)
            return list(original(payloads))

        batcher._run_batch, batcher.inline_max_s = held, 0.0
        body = {"images": [DIGIT_EXAMPLE]}

        async def ask() -> None:
            with plane.call("test", "predict") as call:
                await plane.predict(TASKS["digit"], body, None, None, call)

        first = asyncio.create_task(ask())
        assert await asyncio.to_thread(running.wait, 5)  # the first is inside the model
        second = asyncio.create_task(ask())
        await asyncio.sleep(0)  # one loop turn: the second is queued
        second.cancel()
        release.set()
        await first
        with pytest.raises(asyncio.CancelledError):
            await second
        assert runs == [1]  # the cancelled request was dropped from the queue, never run
        assert requests(plane.calls.metrics) == {("test", "predict", "digit", "1", "ok"): 1,
                                                 ("test", "predict", "digit", "1", "cancelled"): 1}

    with_plane(scenario)
