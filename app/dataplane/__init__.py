"""The data plane: the one door every protocol calls (app/dataplane/plane.py), and the record of each
request (app/dataplane/calls.py)."""

from app.dataplane.calls import Call, Calls
from app.dataplane.plane import DataPlane, Inference, Readiness, Stream, Task, parse_version, timeout_parameter

__all__ = ["Call", "Calls", "DataPlane", "Inference", "Readiness", "Stream", "Task", "parse_version",
           "timeout_parameter"]
