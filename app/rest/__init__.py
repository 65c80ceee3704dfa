"""The typed REST API: prediction routes made from the task table, health and the model list, docs."""

from app.rest import errors

__all__ = ["errors"]
