"""kubetune's three kinds as the CLI names them: ``tj``, ``ftm`` and ``mc``, as kubectl's short names do.

Kept free of the pydantic models (whose import costs a fraction of a second) so ``kubetune --help`` stays fast;
tests/unit/cli/test_kinds.py checks these names against the models' CRD info.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubetune.kube import Resource

GROUP = "kubetune.dev"
API_VERSION = f"{GROUP}/v1alpha1"
# Labels the operator sets (kubetune.builders.naming), read here to find a job's pods and a model's versions.
TRAININGJOB_UID_LABEL = "kubetune.dev/trainingjob-uid"
MODEL_NAME_LABEL = "kubetune.dev/model-name"
TRAINER_CONTAINER = "trainer"


@dataclass(frozen=True)
class Kind:
    kind: str
    singular: str
    plural: str
    short: str

    @property
    def qualified(self) -> str:
        """``trainingjobs.kubetune.dev``, as kubectl prints it."""
        return f"{self.plural}.{GROUP}"

    @property
    def resource(self) -> Resource:
        from kubetune.kube import Resource

        return Resource(API_VERSION, self.plural)


TRAININGJOB = Kind("TrainingJob", "trainingjob", "trainingjobs", "tj")
FINETUNEDMODEL = Kind("FineTunedModel", "finetunedmodel", "finetunedmodels", "ftm")
MODELCOMPARISON = Kind("ModelComparison", "modelcomparison", "modelcomparisons", "mc")
KINDS = (TRAININGJOB, FINETUNEDMODEL, MODELCOMPARISON)

ALIASES: dict[str, Kind] = {}
for _kind in KINDS:
    for _alias in (_kind.short, _kind.singular, _kind.plural, _kind.qualified, f"{_kind.singular}.{GROUP}"):
        ALIASES[_alias] = _kind
