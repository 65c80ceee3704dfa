"""What the data plane says about the server and its models: server and model metadata, the model
configuration and statistics extensions, in the JSON shape Triton's clients read. V2 REST answers these
dicts; gRPC parses the same dicts into its messages."""

from __future__ import annotations

from typing import Any

from app import __version__
from app.batching.statistics import Duration
from app.repository.version import ModelVersion
from app.settings import Settings

DATA_TYPES = {"BYTES": "TYPE_STRING", "BOOL": "TYPE_BOOL"} | {
    name: f"TYPE_{name}" for name in ("UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                                      "FP16", "FP32", "FP64")}
PLATFORMS = {"onnx": "onnxruntime_onnx", "torchscript": "pytorch_libtorch"}
BACKENDS = {"onnx": "onnxruntime", "torchscript": "pytorch"}
EXTENSIONS = ["binary_tensor_data", "model_repository", "model_configuration", "statistics"]


def server_metadata() -> dict[str, Any]:
    return {"name": "seqserve", "version": __version__, "extensions": EXTENSIONS}


def model_metadata(entry: ModelVersion, versions: list[int]) -> dict[str, Any]:
    """`versions`: every version of the model that serves."""
    assert entry.model is not None
    return {
        "name": entry.name,
        "versions": [str(v) for v in versions],
        "platform": PLATFORMS.get(entry.model.backend.name, entry.model.backend.name),
        **entry.model.signature().describe(),
    }


def version_policy(settings: Settings, name: str) -> dict[str, Any]:
    policy = settings.policy_for(name)
    if policy.latest is not None:
        return {"latest": {"num_versions": policy.latest}}
    if policy.versions is not None:
        return {"specific": {"versions": sorted(policy.versions)}}
    return {"all": {}}


def model_config(entry: ModelVersion, settings: Settings) -> dict[str, Any]:
    """What serves this version: tensors, batching and queue settings, where it runs. A model batches
    along the first dimension when every input has a variable one (`max_batch_size` > 0, dims without it)."""
    assert entry.model is not None
    signature = entry.model.signature()
    batched = all(spec.shape and spec.shape[0] == -1 for spec in signature.inputs)

    def tensors(specs: list[Any]) -> list[dict[str, Any]]:
        return [{"name": spec.name, "data_type": DATA_TYPES[spec.datatype],
                 "dims": spec.shape[1:] if batched else spec.shape} for spec in specs]

    backend = entry.model.backend
    return {
        "name": entry.name,
        "platform": PLATFORMS.get(backend.name, backend.name),
        "backend": BACKENDS.get(backend.name, backend.name),
        "version_policy": version_policy(settings, entry.name),
        "max_batch_size": settings.max_batch_size if batched else 0,
        "input": tensors(signature.inputs),
        "output": tensors(signature.outputs),
        "dynamic_batching": {
            "max_queue_delay_microseconds": int(settings.max_batch_delay_ms * 1000),
            "default_queue_policy": {"default_timeout_microseconds": int(settings.request_timeout_s * 1e6),
                                     "max_queue_size": settings.max_queue_items},
        },
        "instance_group": [{"name": entry.key, "count": 1,
                            "kind": "KIND_GPU" if "CUDA" in backend.provider.upper() else "KIND_CPU"}],
        "parameters": {"task": {"string_value": entry.model.task}},
    }


def _duration(duration: Duration) -> dict[str, int]:
    return {"count": duration.count, "ns": duration.ns}


def model_statistics(entries: list[ModelVersion]) -> dict[str, Any]:
    """{"model_stats": [...]} for these versions (the statistics extension)."""
    stats = []
    for entry in entries:
        if entry.batcher is None:
            continue
        s = entry.batcher.statistics
        none = _duration(Duration())
        stats.append({
            "name": entry.name, "version": str(entry.version), "last_inference": s.last_inference_ms,
            "inference_count": s.inference_count, "execution_count": s.execution_count,
            "inference_stats": {
                "success": _duration(s.success), "fail": _duration(s.fail), "queue": _duration(s.queue),
                "compute_input": none, "compute_infer": _duration(s.compute_infer), "compute_output": none,
                "cache_hit": none, "cache_miss": none,
            },
            "batch_stats": [{"batch_size": size, "compute_input": none, "compute_infer": _duration(run),
                             "compute_output": none} for size, run in sorted(s.batches.items())],
        })
    return {"model_stats": stats}
