"""Offline training, export and evaluation of seqserve's models (needs the `train` extra: torch, onnx, ...)."""
