"""Open Inference Protocol (KServe V2) REST, with the binary tensor data extension tritonclient uses."""

from app.v2 import errors

__all__ = ["errors"]
