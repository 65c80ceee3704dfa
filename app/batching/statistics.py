"""Per model version statistics, in the shape of the Open Inference Protocol's statistics extension."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Duration:
    count: int = 0
    ns: int = 0

    def add(self, seconds: float, count: int = 1) -> None:
        self.count += count
        self.ns += int(seconds * 1e9)


@dataclass
class Statistics:
    """Per model version, in the shape of the Open Inference Protocol's statistics extension: requests
    that succeeded or failed (with their whole time), time queued, model time, and runs per batch size."""

    success: Duration = field(default_factory=Duration)
    fail: Duration = field(default_factory=Duration)
    queue: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)  # each request's share: its batch's run
    inference_count: int = 0  # items run
    execution_count: int = 0  # model runs
    last_inference_ms: int = 0
    batches: dict[int, Duration] = field(default_factory=dict)  # batch size -> runs and their time
