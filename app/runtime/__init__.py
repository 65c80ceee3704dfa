"""Backends that run a model's graphs: onnxruntime (CUDA or CPU) or TorchScript."""
