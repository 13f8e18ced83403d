"""The mirror's settings come from KUBETUNE_* variables, typed, and map onto MirrorSettings."""

from __future__ import annotations

import pytest

from kubetune.settings import OperatorSettings
from kubetune.store import Mirror, MirrorSettings


def test_defaults_give_an_embedded_database_that_migrates() -> None:
    settings = OperatorSettings.from_env({})
    assert (settings.database_url, settings.state_dir, settings.database_migrate) == ("", "", True)
    mirror = Mirror.from_settings(OperatorSettings(state_dir="/state"))
    assert mirror.url == "sqlite:////state/kubetune.db"
    assert mirror.settings == MirrorSettings(batch_size=500, queue_bound=50_000, relist_interval=300.0, migrate=True)


def test_variables_are_typed() -> None:
    settings = OperatorSettings.from_env({
        "KUBETUNE_DATABASE_URL": "postgresql://kubetune@db/mirror", "KUBETUNE_DATABASE_MIGRATE": "false",
        "KUBETUNE_MIRROR_BATCH_SIZE": "100", "KUBETUNE_MIRROR_QUEUE_BOUND": "1000",
        "KUBETUNE_MIRROR_RELIST_INTERVAL": "60", "KUBETUNE_STATE_DIR": "/state",
    })
    mirror = Mirror.from_settings(settings, namespaces=("team-*", "!team-x"))
    assert mirror.url == "postgresql://kubetune@db/mirror"
    assert mirror.settings == MirrorSettings(batch_size=100, queue_bound=1000, relist_interval=60.0, migrate=False,
                                             namespaces=("team-*", "!team-x"))


def test_a_bad_value_names_its_variable() -> None:
    with pytest.raises(ValueError, match="KUBETUNE_MIRROR_QUEUE_BOUND"):
        OperatorSettings.from_env({"KUBETUNE_MIRROR_QUEUE_BOUND": "lots"})
