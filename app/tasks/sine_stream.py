"""Streaming forecasts: a live series one or more observations at a time, the recurrent state carried
between calls in a signed token the client sends back (app/state_token.py).

The graph is one step: new values plus the carried state (LSTM h and c; the running normaliser's
count, mean and m2) in; a forecast of the next `max_horizon` values plus the new state out. Steps of
different streams arriving together run as one batch (grouped by how many values they bring).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from app.errors import InputError
from app.repository.manifest import Manifest, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.state_token import StateTokenError, StateTokenVersionError, decode_array, encode_array, sign, verify
from app.tasks.base import TaskModel
from app.tasks.contract import Input, run_grouped
from app.tensors import Tensor

DEFAULT_HORIZON = 16
FLOAT32_MAX = float(np.finfo(np.float32).max)
STATE_INPUTS = ("h", "c", "count", "mean", "m2")
class StreamResponse(BaseModel):
    model: str
    version: int
    forecast: list[float] = Field(description="The next `horizon` values, after every value seen so far.")
    state: str = Field(description="Send it back as `state` with the next values.")
    observed: int = Field(description="Values seen by this stream so far.")


@dataclass
class StreamState:
    """One stream's carried state: h and c [layers, hidden], the normaliser's count, mean and m2."""

    h: np.ndarray
    c: np.ndarray
    count: float
    mean: float
    m2: float


@dataclass
class StreamStep:
    values: np.ndarray  # float32 [T], the new observations
    state: StreamState
    horizon: int


@dataclass
class StreamResult:
    forecast: np.ndarray  # float32 [max_horizon]
    state: StreamState
    horizon: int


class SineStreamModel(TaskModel[StreamStep, StreamResult]):
    task = "sine_stream"
    route = "/predict/sine/stream"
    summary = "Forecast a live series: send new values and the last answer's state"
    default_model = "sine_stream"
    response_model = StreamResponse
    state_inputs = STATE_INPUTS
    stateful = True
    INPUTS = (
        Input("values", "FP32", (-1, -1), "New observations, oldest first (one or many); as a tensor, [1, T].",
              items="max_values", json_shape=(-1,)),
        Input("horizon", "INT64", (1,), "Values to forecast.", scalar=True, default=DEFAULT_HORIZON, low=1,
              high="max_horizon"),
        Input("state", "BYTES", (1,), "The previous answer's `state`; null starts a stream.", scalar=True,
              default=None, nullable=True, opaque=True, where="json"),
        # V2 carries the state itself: all of these, or none for a new stream
        Input("h", "FP32", (-1, -1, -1), "LSTM h, [layers, 1, hidden].", default=None, where="tensor"),
        Input("c", "FP32", (-1, -1, -1), "LSTM c, [layers, 1, hidden].", default=None, where="tensor"),
        Input("count", "FP64", (-1,), "Values seen.", default=None, where="tensor"),
        Input("mean", "FP64", (-1,), "Their running mean.", default=None, where="tensor"),
        Input("m2", "FP64", (-1,), "Their running sum of squared deviations.", default=None, where="tensor"),
    )
    OUTPUTS = (TensorSpec(name="forecast", datatype="FP32", shape=[-1, -1]),
               TensorSpec(name="h_out", datatype="FP32", shape=[-1, -1, -1]),
               TensorSpec(name="c_out", datatype="FP32", shape=[-1, -1, -1]),
               TensorSpec(name="count_out", datatype="FP64", shape=[-1]),
               TensorSpec(name="mean_out", datatype="FP64", shape=[-1]),
               TensorSpec(name="m2_out", datatype="FP64", shape=[-1]))
    EXAMPLE: ClassVar[dict[str, Any]] = {"values": [0.42], "horizon": DEFAULT_HORIZON, "state": None}

    def __init__(self, manifest: Manifest, backend: Backend, settings: Settings) -> None:
        super().__init__(manifest, backend, settings)
        pre = manifest.preprocessing
        self.max_horizon = int(pre["max_horizon"])
        self.layers, self.hidden = int(pre["layers"]), int(pre["hidden"])
        self.max_values = settings.max_series_length
        # The app always sets a key (one per process at least); a model loaded on its own (training's
        # evaluation, scripts) signs with one of its own.
        self.keys = settings.signing_keys or [secrets.token_urlsafe(32).encode()]  # the first signs

    # --- state

    def initial_state(self) -> StreamState:
        zeros = np.zeros((self.layers, self.hidden), dtype=np.float32)
        return StreamState(zeros, zeros.copy(), 0.0, 0.0, 0.0)

    def open_state(self, token: Any) -> StreamState:
        """The state a token carries, if this very model version signed it."""
        if token is None:
            return self.initial_state()
        payload = verify(self.keys, token)
        if payload.get("task") != self.task or payload.get("model") != self.manifest.name:
            raise StateTokenError(f"state token belongs to model {payload.get('model')!r} (task "
                                  f"{payload.get('task')!r}), not {self.manifest.name!r}", "other_model")
        if payload.get("version") != self.manifest.version:
            signed = payload.get("version")
            raise StateTokenVersionError(f"state token comes from {self.manifest.name} version {signed}, this is "
                                         f"version {self.manifest.version}: send ?version={signed} while that "
                                         "version serves, or start a new stream (state null)")
        h, c = decode_array(payload.get("h"), "h"), decode_array(payload.get("c"), "c")
        if h.shape != (self.layers, self.hidden) or c.shape != h.shape:
            raise StateTokenError(f"state token holds state of shape {list(h.shape)}, expected "
                                  f"{[self.layers, self.hidden]}", "state")
        try:
            return StreamState(h.astype(np.float32), c.astype(np.float32), float(payload["count"]),
                               float(payload["mean"]), float(payload["m2"]))
        except (KeyError, TypeError, ValueError):
            raise StateTokenError("state token lacks the normaliser's count, mean or m2", "state") from None

    def seal_state(self, state: StreamState) -> str:
        return sign(self.keys[0], {"task": self.task, "model": self.manifest.name, "version": self.manifest.version,
                               "count": state.count, "mean": state.mean, "m2": state.m2,
                               "h": encode_array(state.h), "c": encode_array(state.c)})

    def with_state(self, payload: StreamStep, state: StreamState) -> StreamStep:
        return StreamStep(payload.values, state, payload.horizon)

    def state_of(self, result: StreamResult) -> StreamState:
        return result.state

    # --- requests: the state comes as a token (JSON) or as tensors (V2)

    def payload(self, values: dict[str, Any]) -> StreamStep:
        state = self.open_state(values["state"]) if "state" in values else self._tensor_state(values)
        return self._step(values, state)

    def step_json(self, frame: dict[str, Any], state: StreamState) -> StreamStep:
        return self._step(self.contract.json_values(frame, self), state)

    def _step(self, values: dict[str, Any], state: StreamState) -> StreamStep:
        array = values["values"]
        if array.ndim == 2:  # a tensor
            if array.shape[0] != 1:
                raise InputError("'values' must be FP32 of shape [1, T]: one stream's new observations")
            array = array[0]
        if len(array) > self.max_values:
            raise InputError(f"'values' has {len(array)} values; at most {self.max_values} per step")
        if np.abs(array).max() > FLOAT32_MAX:
            raise InputError("'values' holds a number beyond float32's range")
        return StreamStep(array.astype(np.float32), state, values["horizon"])

    def _tensor_state(self, values: dict[str, Any]) -> StreamState:
        given = {name: values[name] for name in STATE_INPUTS if values.get(name) is not None}
        if not given:
            return self.initial_state()
        if set(given) != set(STATE_INPUTS):
            raise InputError(f"send all of {list(STATE_INPUTS)} or none (a new stream)")
        h, c = (np.asarray(given[k], dtype=np.float32) for k in ("h", "c"))
        if h.shape != (self.layers, 1, self.hidden) or c.shape != h.shape:
            raise InputError(f"'h' and 'c' must have shape {[self.layers, 1, self.hidden]}")
        count, mean, m2 = (float(np.asarray(given[k]).ravel()[0]) for k in ("count", "mean", "m2"))
        return StreamState(h[:, 0], c[:, 0], count, mean, m2)

    def answer_json(self, result: StreamResult) -> dict[str, Any]:
        return {"forecast": result.forecast[: result.horizon], "state": self.seal_state(result.state),
                "observed": int(result.state.count)}

    def answer_tensors(self, result: StreamResult) -> list[Tensor]:
        s = result.state
        forecast = result.forecast[None, : result.horizon].astype(np.float32)
        return [Tensor("forecast", "FP32", list(forecast.shape), forecast),
                Tensor("h_out", "FP32", [self.layers, 1, self.hidden], s.h[:, None]),
                Tensor("c_out", "FP32", [self.layers, 1, self.hidden], s.c[:, None]),
                Tensor("count_out", "FP64", [1], np.array([s.count])),
                Tensor("mean_out", "FP64", [1], np.array([s.mean])),
                Tensor("m2_out", "FP64", [1], np.array([s.m2]))]

    # --- running

    def size(self, payload: StreamStep) -> int:
        return 1

    def work(self, payload: StreamStep) -> int:
        return len(payload.values)

    def run_batch(self, payloads: list[StreamStep]) -> list[StreamResult]:
        return run_grouped(payloads, lambda payload: len(payload.values), self._run_steps)  # one run per step length

    def _run_steps(self, group: list[StreamStep]) -> list[StreamResult]:
        forecast, h, c, count, mean, m2 = self.backend.run("model", {
            "values": np.stack([p.values for p in group]),
            "h": np.stack([p.state.h for p in group], axis=1),
            "c": np.stack([p.state.c for p in group], axis=1),
            "count": np.array([p.state.count for p in group], dtype=np.float64),
            "mean": np.array([p.state.mean for p in group], dtype=np.float64),
            "m2": np.array([p.state.m2 for p in group], dtype=np.float64),
        })
        return [StreamResult(forecast[row], StreamState(h[:, row].copy(), c[:, row].copy(), float(count[row]),
                                                        float(mean[row]), float(m2[row])), payload.horizon)
                for row, payload in enumerate(group)]

    def warmup_payloads(self, batch_sizes: list[int]) -> list[StreamStep]:
        rng = np.random.default_rng(0)
        return [StreamStep(rng.normal(size=n).astype(np.float32), self.initial_state(), DEFAULT_HORIZON)
                for n in batch_sizes]


SIGNATURE = SineStreamModel.declared_signature()
