"""The base class of every API model, and the markers that carry what only the CRD needs (CEL rules, list types,
preserve-unknown-fields) through pydantic's JSON schema to ``crdgen``.

Rules that pydantic can also check (exactly-one-of unions) are declared once here and enforced on both sides: by the
API server through CEL, and by ``parse_resource`` in the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel

Json = dict[str, Any]

RULES_KEY = "x-kubernetes-validations"


@dataclass(frozen=True)
class Rule:
    """One CEL validation rule. ``message`` is what the user reads: name the field and say what is allowed."""

    rule: str
    message: str
    field_path: str | None = None
    # One of FieldValueInvalid (the server's default), FieldValueForbidden, FieldValueRequired, FieldValueDuplicate.
    reason: str | None = None

    def as_schema(self) -> Json:
        out: Json = {"rule": self.rule, "message": self.message}
        if self.field_path:
            out["fieldPath"] = self.field_path
        if self.reason:
            out["reason"] = self.reason
        return out


def cel(*rules: Rule) -> Json:
    """``json_schema_extra`` for a field that carries CEL rules."""
    return {RULES_KEY: [r.as_schema() for r in rules]}


def list_map(*keys: str) -> Json:
    """``json_schema_extra`` for a list whose items are unique by ``keys`` (the server reports duplicates)."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


def immutable(field: str, hint: str) -> Json:
    """``json_schema_extra`` for a field that cannot change after creation."""
    return cel(Rule("self == oldSelf", f"{field} is immutable: {hint}"))


class ApiModel(BaseModel):
    """Base of every spec and status model: camelCase on the wire, snake_case in Python.

    Unknown fields are ignored rather than rejected: the API server already prunes them, so the only source is version
    skew (a newer CRD beside an older operator), which must not break parsing.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
        json_schema_extra=lambda schema, cls: _add_rules(schema, cls),
    )

    # Extra CEL rules on the object (field-level rules go in ``Field(json_schema_extra=cel(...))``).
    cel_rules: ClassVar[tuple[Rule, ...]] = ()
    # Python names of the fields of which exactly one must be set (a Kubernetes-style union).
    one_of: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def one_of_message(cls) -> str:
        names = [cls.model_fields[f].alias or f for f in cls.one_of]
        return f"exactly one of {', '.join(names)} must be set"

    @classmethod
    def one_of_rule(cls) -> Rule:
        names = [cls.model_fields[f].alias or f for f in cls.one_of]
        checks = ", ".join(f"has(self.{n})" for n in names)
        return Rule(f"[{checks}].filter(x, x).size() == 1", cls.one_of_message())

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if self.one_of and sum(getattr(self, f) is not None for f in self.one_of) != 1:
            raise ValueError(self.one_of_message())
        return self

    def to_dict(self) -> Json:
        """The wire form: camelCase, without unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _add_rules(schema: Json, cls: type[BaseModel]) -> None:
    if not issubclass(cls, ApiModel):
        return
    rules = ([cls.one_of_rule()] if cls.one_of else []) + list(cls.cel_rules)
    if rules:
        schema.setdefault(RULES_KEY, []).extend(r.as_schema() for r in rules)
