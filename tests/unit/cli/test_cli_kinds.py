"""The CLI names kubetune's kinds and labels without importing the API models (to start fast); they must agree."""

from __future__ import annotations

from kubetune.api import API_VERSION, FineTunedModel, ModelComparison, TrainingJob
from kubetune.builders.naming import MODEL_NAME, TRAININGJOB_UID
from kubetune.builders.training import CONTAINER
from kubetune.cli import kinds


def test_kinds_match_the_crds() -> None:
    assert kinds.API_VERSION == API_VERSION
    for cli_kind, model in ((kinds.TRAININGJOB, TrainingJob), (kinds.FINETUNEDMODEL, FineTunedModel),
                            (kinds.MODELCOMPARISON, ModelComparison)):
        assert cli_kind.plural == model.crd.plural
        assert (cli_kind.short,) == tuple(model.crd.short_names)
        assert cli_kind.kind == model.model_fields["kind"].default
        assert kinds.ALIASES[cli_kind.short] is cli_kind
        assert kinds.ALIASES[cli_kind.qualified] is cli_kind


def test_labels_and_container_match_the_operator() -> None:
    assert kinds.TRAININGJOB_UID_LABEL == TRAININGJOB_UID
    assert kinds.MODEL_NAME_LABEL == MODEL_NAME
    assert kinds.TRAINER_CONTAINER == CONTAINER
