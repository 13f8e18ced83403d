"""The generated schemas are structural, describe every field, and carry defaults equal to the models'."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import Field

from kubetune.api import KINDS, TrainingJobSpec
from kubetune.api.crdgen import crd_manifests
from kubetune.api.crdgen.structural import SchemaError, model_schema
from kubetune.api.schema import ApiModel

Json = dict[str, Any]
CRDS = {c["spec"]["names"]["kind"]: c for c in crd_manifests()}


def schema_of(kind: str) -> Json:
    return CRDS[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def nodes(node: Json, path: str) -> Iterator[tuple[str, Json]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from nodes(node["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_node_is_structural(kind: str) -> None:
    for path, node in nodes(schema_of(kind), kind):
        assert "$ref" not in node and "oneOf" not in node and "allOf" not in node, path
        assert "title" not in node, path
        if node.get("x-kubernetes-int-or-string"):
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
        else:
            assert "anyOf" not in node, path
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields") or \
            node.get("x-kubernetes-int-or-string"), path
        assert node.get("type") != "null", path
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True and "minimum" in node, path


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_field_has_a_description(kind: str) -> None:
    root = schema_of(kind)
    for path, node in nodes(root, kind):
        for name, child in node.get("properties", {}).items():
            if path == kind and name == "metadata":
                continue  # the API server owns metadata's schema
            assert child.get("description", "").strip(), f"{path}.{name} has no description"


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_rule_has_a_message_and_bounded_strings(kind: str) -> None:
    for path, node in nodes(schema_of(kind), kind):
        for rule in node.get("x-kubernetes-validations", []):
            assert rule["rule"] and rule["message"], path
        # Unbounded strings in spec make CEL cost estimates explode; every spec string carries maxLength or enum.
        if ".spec" in path and node.get("type") == "string":
            assert "maxLength" in node or "enum" in node, f"{path} has no maxLength"
        if ".spec" in path and node.get("type") == "array":
            assert "maxItems" in node, f"{path} has no maxItems"


def test_spec_defaults_equal_the_models() -> None:
    spec = schema_of("TrainingJob")["properties"]["spec"]["properties"]
    model = TrainingJobSpec.model_fields
    assert spec["method"]["default"] == model["method"].default == "lora"
    assert spec["lora"]["default"] == {}  # so the server fills in every nested default
    assert spec["lora"]["properties"]["r"]["default"] == 16
    assert spec["hyperparameters"]["properties"]["learningRate"]["default"] == 2e-4
    assert spec["hyperparameters"]["properties"]["learningRate"]["minimum"] == 0
    assert spec["hyperparameters"]["properties"]["learningRate"]["exclusiveMinimum"] is True
    assert "default" not in spec["serving"]  # optional sections stay absent


def test_names_columns_and_status_subresource() -> None:
    tj = CRDS["TrainingJob"]["spec"]
    assert tj["group"] == "kubetune.dev" and tj["scope"] == "Namespaced"
    assert tj["names"] == {"kind": "TrainingJob", "listKind": "TrainingJobList", "plural": "trainingjobs",
                           "singular": "trainingjob", "shortNames": ["tj"], "categories": ["kubetune"]}
    version = tj["versions"][0]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    shown = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert shown == ["Phase", "Progress", "Loss", "ETA", "Model", "Age"]
    ftm_columns = CRDS["FineTunedModel"]["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in ftm_columns if not c.get("priority")] == ["Served", "Loaded", "Phase", "Age"]
    ready = next(c for c in ftm_columns if c["name"] == "Ready")
    assert ready["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    mc_columns = CRDS["ModelComparison"]["spec"]["versions"][0]["additionalPrinterColumns"]
    assert {"Verdict", "Win rate", "Age"} <= {c["name"] for c in mc_columns}


def test_started_trainingjob_rule_covers_every_spec_field_but_suspend() -> None:
    rule = next(r for r in schema_of("TrainingJob")["x-kubernetes-validations"] if r["fieldPath"] == ".spec")
    for name, info in TrainingJobSpec.model_fields.items():
        alias = info.alias or name
        assert (f"self.spec.{alias} == oldSelf.spec.{alias}" in rule["rule"]) is (alias != "suspend"), alias


def test_unions_without_a_structural_form_are_refused() -> None:
    class Ambiguous(ApiModel):
        value: int | list[int] = Field(description="either")

    with pytest.raises(SchemaError, match="value: a union of 2 types"):
        model_schema(Ambiguous)
