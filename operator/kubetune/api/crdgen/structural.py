"""Turn pydantic's JSON schema of a model into a Kubernetes structural schema (OpenAPI v3 as CRDs accept it).

Structural means: every node has a type (except under x-kubernetes-preserve-unknown-fields or
x-kubernetes-int-or-string), no $ref, and no anyOf/oneOf that changes the type. pydantic's Optional (anyOf with null)
becomes the bare type, since the wire form omits unset fields rather than sending null.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from ..schema import RULES_KEY, Json

# Keys in the order a reader wants them in YAML and in `kubectl explain`.
_KEY_ORDER = (
    "description", "type", "format", "enum", "default", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "maxProperties", "required", "properties", "items",
    "additionalProperties", "anyOf", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", RULES_KEY,
)
_DROPPED = {"title"}
_NULL = {"type": "null"}


class SchemaError(ValueError):
    """A model uses a construct that has no structural-schema equivalent; the message names where."""


class CrdJsonSchema(GenerateJsonSchema):
    """pydantic's generator, plus ``default: {}`` for nested models built by a default factory.

    The API server applies defaults only inside objects that exist; defaulting the parent to {} lets it fill in
    every nested default, so what the server stores equals what the model would parse.
    """

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return {} if isinstance(factory(), BaseModel) else NoDefault  # type: ignore[call-arg]
        return super().get_default_value(schema)


def model_schema(model: type[BaseModel]) -> Json:
    """The structural schema of a model, with every $ref inlined."""
    raw = model.model_json_schema(by_alias=True, mode="validation", schema_generator=CrdJsonSchema)
    defs = raw.pop("$defs", {})
    return _convert(raw, defs, model.__name__)


def _convert(node: Json, defs: dict[str, Json], where: str) -> Json:
    node = dict(node)
    if "$ref" in node:
        node = _merge(_convert(defs[node.pop("$ref").split("/")[-1]], defs, where), node)
    if "anyOf" in node:
        node = _collapse_any_of(node, defs, where)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("default", 0) is None:
        del node["default"]
    if isinstance(node.get("description"), str):
        # Docstrings wrap at the source's line length; kubectl explain re-wraps on its own.
        node["description"] = " ".join(node["description"].split())
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        # JSON Schema 2020-12 gives the bound itself; OpenAPI v3.0 wants the inclusive key plus a flag.
        if isinstance(node.get(bound), int | float) and not isinstance(node.get(bound), bool):
            node[inclusive] = node.pop(bound)
            node[bound] = True

    if "properties" in node:
        node["properties"] = {k: _convert(v, defs, f"{where}.{k}") for k, v in node["properties"].items()}
        node.pop("additionalProperties", None)
    if isinstance(node.get("items"), dict):
        node["items"] = _convert(node["items"], defs, f"{where}[]")
    extra = node.get("additionalProperties")
    if extra is True:
        del node["additionalProperties"]
        node["x-kubernetes-preserve-unknown-fields"] = True
    elif isinstance(extra, dict):
        node["additionalProperties"] = _convert(extra, defs, f"{where}{{}}")
    elif extra is False:
        del node["additionalProperties"]

    untyped_ok = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string")
    if "type" not in node and not untyped_ok:
        raise SchemaError(f"{where}: no type; structural schemas need one")
    return _ordered({k: copy.deepcopy(v) for k, v in node.items() if k not in _DROPPED})


def _collapse_any_of(node: Json, defs: dict[str, Json], where: str) -> Json:
    branches = [b for b in node.pop("anyOf") if b != _NULL]
    if node.get("x-kubernetes-int-or-string") and branches == [{"type": "integer"}, {"type": "string"}]:
        node["anyOf"] = branches
        return node
    if len(branches) != 1:
        raise SchemaError(f"{where}: a union of {len(branches)} types has no structural form; use WithJsonSchema")
    return _merge(_convert(branches[0], defs, where), node)


def _merge(base: Json, override: Json) -> Json:
    """Field-level keys (description, default) win over the type's; CEL rules from both are kept."""
    out = dict(base)
    for key, value in override.items():
        if key == RULES_KEY:
            out[RULES_KEY] = [*value, *out.get(RULES_KEY, [])]
        else:
            out[key] = value
    return out


def _ordered(node: Json) -> Json:
    rank = {k: i for i, k in enumerate(_KEY_ORDER)}
    return dict(sorted(node.items(), key=lambda kv: rank.get(kv[0], len(rank))))
