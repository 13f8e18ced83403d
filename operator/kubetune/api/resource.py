"""What every kind has: apiVersion, kind and metadata, plus the CRD facts that are not schema (names, printer
columns, root-level rules), declared beside each kind so ``crdgen`` has one place to read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pydantic import Field

from .common import ObjectMeta
from .schema import ApiModel, Rule

GROUP = "kubetune.dev"
VERSION = "v1alpha1"
API_VERSION: Literal["kubetune.dev/v1alpha1"] = "kubetune.dev/v1alpha1"
CATEGORY = "kubetune"


@dataclass(frozen=True)
class PrinterColumn:
    """One column of ``kubectl get``."""

    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    description: str
    priority: int = 0  # 1 shows only with -o wide
    format: str | None = None


@dataclass(frozen=True)
class CrdInfo:
    """The CRD facts of a kind that are not part of its schema."""

    plural: str
    short_names: tuple[str, ...]
    columns: tuple[PrinterColumn, ...]
    # Rules on the whole object: the only place a rule can read both spec and status.
    root_rules: tuple[Rule, ...] = field(default=())


AGE_COLUMN = PrinterColumn("Age", ".metadata.creationTimestamp", "date", "Time since the object was created.")


class Resource(ApiModel):
    """Base of the three kinds. Subclasses narrow ``kind`` and add ``spec`` and ``status``."""

    crd: ClassVar[CrdInfo]

    api_version: Literal["kubetune.dev/v1alpha1"] = Field(
        default=API_VERSION, description="APIVersion of the object: kubetune.dev/v1alpha1."
    )
    kind: str = Field(description="Kind of the object.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
