"""Streaming forecasts: a live series one or more observations at a time, the recurrent state carried
between calls in a signed token the client sends back (app/tasks/state.py).

The graph is one step: new values plus the carried state (LSTM h and c; the running normaliser's
count, mean and m2) in; a forecast of the next `max_horizon` values plus the new state out. The carrying
is the recurrent model's (app/tasks/recurrent.py), as for any model whose manifest declares state; this
module adds the typed route: values and a horizon in, the forecast, the token and the count seen out.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from app.errors import InputError
from app.repository.manifest import Manifest, ManifestError, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks.contract import Input
from app.tasks.recurrent import RecurrentModel, Step, StepResult
from app.tasks.state import Carried
from app.tensors import Tensor

DEFAULT_HORIZON = 16
FLOAT32_MAX = float(np.finfo(np.float32).max)
STATE_INPUTS = ("h", "c", "count", "mean", "m2")
# The manifest's state pairs (training writes them): the LSTM's h and c are [layers, batch, hidden].
STATE_PAIRS = [{"input": name, "output": f"{name}_out", **({"batch_axis": 1} if name in ("h", "c") else {})}
               for name in STATE_INPUTS]


class StreamResponse(BaseModel):
    model: str
    version: int
    forecast: list[float] = Field(description="The next `horizon` values, after every value seen so far.")
    state: str = Field(description="Send it back as `state` with the next values.")
    observed: int = Field(description="Values seen by this stream so far.")


class SineStreamModel(RecurrentModel):
    """The stream forecaster: a recurrent model (app/tasks/recurrent.py) with its own typed route, whose
    state pairs (LSTM h and c, the normaliser's count, mean and m2) its manifest declares."""

    task = "sine_stream"
    route = "/predict/sine/stream"
    summary = "Forecast a live series: send new values and the last answer's state"
    default_model = "sine_stream"
    response_model = StreamResponse
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
        if self.state.inputs != list(STATE_INPUTS):
            raise ManifestError(f"{manifest.name}/{manifest.version}: task sine_stream carries the state "
                                f"{list(STATE_INPUTS)}; the manifest declares {self.state.inputs}")
        self.max_horizon = int(manifest.preprocessing["max_horizon"])
        self.max_values = settings.max_series_length

    # --- requests: the state comes as a token (JSON) or as tensors (V2)

    def payload(self, values: dict[str, Any]) -> Step:
        if "state" in values:
            state = self.open_state(values["state"])
        else:
            sent = self.state.from_tensors(values)
            state = sent if sent is not None else self.initial_state()
        return self._step(values, state)

    def step_json(self, frame: dict[str, Any], state: Carried) -> Step:
        return self._step(self.contract.json_values(frame, self), state)

    def _step(self, values: dict[str, Any], state: Carried) -> Step:
        array = values["values"]
        if array.ndim == 2:  # a tensor
            if array.shape[0] != 1:
                raise InputError("'values' must be FP32 of shape [1, T]: one stream's new observations")
            array = array[0]
        if len(array) > self.max_values:
            raise InputError(f"'values' has {len(array)} values; at most {self.max_values} per step")
        if np.abs(array).max() > FLOAT32_MAX:
            raise InputError("'values' holds a number beyond float32's range")
        return Step({"values": array.astype(np.float32)[None]}, state, {"horizon": values["horizon"]})

    def answer_json(self, result: StepResult) -> dict[str, Any]:
        return {"forecast": result.outputs["forecast"][0, : result.extra["horizon"]],
                "state": self.seal_state(result.state), "observed": int(result.state.arrays["count"][0])}

    def answer_tensors(self, result: StepResult) -> list[Tensor]:
        horizon = result.extra["horizon"]
        tensors = super().answer_tensors(result)
        return [Tensor(t.name, t.datatype, [1, horizon], np.asarray(t.data)[:, :horizon]) if t.name == "forecast"
                else t for t in tensors]

    def warmup_payloads(self, batch_sizes: list[int]) -> list[Step]:
        rng = np.random.default_rng(0)  # steps of these lengths
        return [Step({"values": rng.normal(size=(1, n)).astype(np.float32)}, self.initial_state(),
                     {"horizon": DEFAULT_HORIZON}) for n in batch_sizes]


SIGNATURE = SineStreamModel.declared_signature()
