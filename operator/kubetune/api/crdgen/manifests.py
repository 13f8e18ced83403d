"""Assemble a CustomResourceDefinition from a kind's model and its CrdInfo."""

from __future__ import annotations

from ..resource import CATEGORY, GROUP, VERSION, Resource
from ..schema import RULES_KEY, Json
from .structural import model_schema

PART_OF = {"app.kubernetes.io/part-of": "kubetune"}


def root_schema(kind: type[Resource]) -> Json:
    """The openAPIV3Schema: the model's schema, with the object-level fields reduced to what CRDs allow."""
    schema = model_schema(kind)
    props = schema["properties"]
    # The API server owns metadata's schema; a CRD may only say it is an object.
    props["metadata"] = {"type": "object"}
    for key in ("apiVersion", "kind"):
        props[key] = {"description": props[key]["description"], "type": "string"}
    schema["required"] = ["spec"]
    if kind.crd.root_rules:
        schema[RULES_KEY] = [r.as_schema() for r in kind.crd.root_rules]
    return schema


def crd_manifest(kind: type[Resource]) -> Json:
    """The whole CustomResourceDefinition of a kind, as a dict ready to apply."""
    info = kind.crd
    name = kind.__name__
    columns = []
    for c in info.columns:
        column: Json = {"name": c.name, "type": c.type, "jsonPath": c.json_path, "description": c.description}
        if c.priority:
            column["priority"] = c.priority
        if c.format:
            column["format"] = c.format
        columns.append(column)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{info.plural}.{GROUP}", "labels": dict(PART_OF)},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": name,
                "listKind": f"{name}List",
                "plural": info.plural,
                "singular": name.lower(),
                "shortNames": list(info.short_names),
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": root_schema(kind)},
                }
            ],
        },
    }
