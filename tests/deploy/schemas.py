"""Strict offline validation of manifests against the schemas their projects publish on PyPI.

- KServe kinds: the `kserve` SDK's models (generated from KServe's OpenAPI document), which name each
  field's JSON key and type; the Kubernetes types they embed come from the `kubernetes` client's models,
  generated the same way. A key a model does not have, a value of the wrong type, or a required field left
  out (the models refuse it when built) is an error naming its path.
- KEDA kinds: cloudcoil's pydantic models of KEDA's CRDs, as a JSON Schema closed to unknown keys.
- Kubernetes' own kinds: kubernetes-validate, strict.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from typing import Any

import jsonschema
import kubernetes.client
import kubernetes_validate
from cloudcoil.models.keda import v1alpha1 as keda


def kserve_models() -> types.ModuleType:
    """The SDK's generated models without its package: `import kserve` starts with its model server, whose
    gRPC messages share the protobuf package `inference` with tritonclient's (already loaded here), and the
    models need none of it."""
    if "kserve" not in sys.modules:
        spec = importlib.util.find_spec("kserve")
        assert spec is not None and spec.submodule_search_locations is not None, "the kserve SDK is not installed"
        package = types.ModuleType("kserve")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["kserve"] = package
    return importlib.import_module("kserve.models")


kserve = kserve_models()

KUBERNETES_VERSION = "1.33"
KSERVE_KINDS = {"ServingRuntime": kserve.V1alpha1ServingRuntime, "ClusterServingRuntime":
                kserve.V1alpha1ClusterServingRuntime, "InferenceService": kserve.V1beta1InferenceService}
KEDA_KINDS = {"ScaledObject": keda.ScaledObject}
PRIMITIVES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
                                           "datetime": (str,), "date": (str,), "bytes": (str,)}


class Invalid(Exception):
    pass


def model_class(name: str) -> Any:
    found = getattr(kserve, name, None) or getattr(kubernetes.client, name, None)
    if found is None:
        raise LookupError(f"no model named {name}")
    return found


def build(type_name: str, value: Any, path: str) -> Any:
    """`value` read as `type_name` (the generated models' notation), strictly; returns what the model takes."""
    if type_name == "object":
        return value
    if type_name in PRIMITIVES:
        if (isinstance(value, bool) and type_name != "bool") or not isinstance(value, PRIMITIVES[type_name]):
            raise Invalid(f"{path}: expected {type_name}, got {value!r}")
        return value
    if listed := re.fullmatch(r"(?:list|List)\[(.+)\]", type_name):
        if not isinstance(value, list):
            raise Invalid(f"{path}: expected a list, got {value!r}")
        return [build(listed.group(1), item, f"{path}[{k}]") for k, item in enumerate(value)]
    if mapped := re.fullmatch(r"dict\(str, (.+)\)|Dict\[str, (.+)\]", type_name):
        if not isinstance(value, dict):
            raise Invalid(f"{path}: expected a mapping, got {value!r}")
        item_type = mapped.group(1) or mapped.group(2)
        return {key: build(item_type, item, f"{path}.{key}") for key, item in value.items()}
    cls = model_class(type_name)
    if not isinstance(value, dict):
        raise Invalid(f"{path}: expected a {type_name} mapping, got {value!r}")
    attribute_of = {key: attribute for attribute, key in cls.attribute_map.items()}
    unknown = sorted(set(value) - set(attribute_of))
    if unknown:
        raise Invalid(f"{path}: {type_name} has no field {', '.join(unknown)}")
    arguments = {attribute_of[key]: build(cls.openapi_types[attribute_of[key]], item, f"{path}.{key}")
                 for key, item in value.items()}
    try:
        return cls(**arguments)
    except (ValueError, TypeError) as exc:  # a required field left out, a value out of its enumeration
        raise Invalid(f"{path}: {exc}") from exc


def closed(schema: Any) -> Any:
    """The schema with every object that lists its properties closed to others."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [closed(item) for item in schema]
    return schema


def validate(document: dict[str, Any]) -> None:
    """Raise if `document` is not a valid resource of its kind (or of a kind this knows nothing of)."""
    kind = document.get("kind", "")
    if kind in KSERVE_KINDS:
        build(KSERVE_KINDS[kind].__name__, document, kind)
    elif kind in KEDA_KINDS:
        schema = closed(KEDA_KINDS[kind].model_json_schema(by_alias=True))
        try:
            jsonschema.validate(document, schema)
        except jsonschema.ValidationError as exc:
            raise Invalid(f"{kind}.{'.'.join(map(str, exc.absolute_path))}: {exc.message}") from exc
    else:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
