"""hub.py: the download alone runs online, whatever HF_HUB_OFFLINE said when huggingface_hub was imported, and the
trainer is offline from then on; a token is required where the config names one. (The download itself, against a
fake Hub, is tested in tests/integration/training/test_hub_base_model.py.)"""

from __future__ import annotations

import os

import huggingface_hub
import pytest
from huggingface_hub import constants

from kubetune.api.trainer import BaseModelRef, HubModel
from kubetune.training.errors import ConfigInvalid
from kubetune.training.hub import _online, fetch_base_model


@pytest.mark.parametrize("offline_at_import", [True, False])
def test_online_for_the_download_offline_after(monkeypatch: pytest.MonkeyPatch, offline_at_import: bool) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline_at_import)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline_at_import else "0")

    with _online():
        assert not huggingface_hub.is_offline_mode()
        assert "HF_HUB_OFFLINE" not in os.environ
    assert huggingface_hub.is_offline_mode() and os.environ["HF_HUB_OFFLINE"] == "1"


def test_offline_after_a_failed_download(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(RuntimeError), _online():
        raise RuntimeError("the Hub went away")
    assert huggingface_hub.is_offline_mode()


def test_a_local_base_is_not_downloaded() -> None:
    assert fetch_base_model(BaseModelRef(name="m", path="/models/base")) is None


def test_an_empty_token_is_config_invalid_naming_the_secret_ref(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", " ")
    ref = BaseModelRef(name="m", path="/tmp/hf/base", hub=HubModel(repo_id="org/m", token_env="HF_TOKEN"))
    with pytest.raises(ConfigInvalid, match=r"spec\.baseModel\.source\.tokenSecretRef: the Secret key is empty"):
        fetch_base_model(ref)


def test_an_unreachable_hub_is_retriable_and_reported_by_its_own_reason() -> None:
    from kubetune.api.trainer import EXIT_RETRIABLE
    from kubetune.training.errors import BaseModelUnavailable

    error = BaseModelUnavailable("cannot download hf://org/m@main")
    assert (error.exit_code, error.reason) == (EXIT_RETRIABLE, "BaseModelUnavailable")
