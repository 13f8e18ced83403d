"""OperatorSettings.from_env: typed values from KUBETUNE_* variables, read once at start-up."""

from __future__ import annotations

import pytest

from kubetune.settings import DEFAULT_IMAGE, OperatorSettings


def test_defaults_without_variables() -> None:
    settings = OperatorSettings.from_env({})
    assert settings == OperatorSettings()
    assert settings.trainer_image == DEFAULT_IMAGE
    assert (settings.namespaces, settings.clusterwide) == ((), True)
    assert settings.progress_interval <= 10  # the issue: progress at least every 10 s


def test_values_are_typed() -> None:
    settings = OperatorSettings.from_env({
        "KUBETUNE_TRAINER_IMAGE": "registry.example/trainer:2", "KUBETUNE_PROGRESS_PORT": "9000",
        "KUBETUNE_PROGRESS_INTERVAL": "2.5", "KUBETUNE_POD_USER": "65532", "KUBETUNE_CLUSTERWIDE": "false",
        "KUBETUNE_UNLOAD_DEADLINE": "12", "KUBETUNE_LIVENESS_ENDPOINT": "http://0.0.0.0:9999/healthz",
    })
    assert settings.trainer_image == "registry.example/trainer:2"
    assert settings.progress_port == 9000 and isinstance(settings.progress_port, int)
    assert settings.progress_interval == 2.5
    assert settings.pod_user == 65532
    assert settings.clusterwide is False
    assert settings.unload_deadline == 12.0 and isinstance(settings.unload_deadline, float)
    assert settings.liveness_endpoint == "http://0.0.0.0:9999/healthz"


@pytest.mark.parametrize(("raw", "expected"), [
    ("team-a", ("team-a",)),
    ("team-a,team-b", ("team-a", "team-b")),
    (" team-a , team-b ,, ", ("team-a", "team-b")),
    ("", ()),
])
def test_namespaces_list(raw: str, expected: tuple[str, ...]) -> None:
    assert OperatorSettings.from_env({"KUBETUNE_NAMESPACES": raw}).namespaces == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), (" on ", True),
    ("false", False), ("0", False), ("no", False), ("Off", False),
])
def test_booleans(raw: str, expected: bool) -> None:
    assert OperatorSettings.from_env({"KUBETUNE_CLUSTERWIDE": raw}).clusterwide is expected


@pytest.mark.parametrize(("variable", "raw", "expected"), [
    ("KUBETUNE_PROGRESS_PORT", "80a", "an integer"),
    ("KUBETUNE_PROGRESS_INTERVAL", "5s", "a number"),
    ("KUBETUNE_CLUSTERWIDE", "ture", "one of"),
])
def test_bad_values_name_the_variable(variable: str, raw: str, expected: str) -> None:
    with pytest.raises(ValueError, match=f"{variable}='{raw}': expected {expected}"):
        OperatorSettings.from_env({variable: raw})


def test_other_variables_are_ignored() -> None:
    settings = OperatorSettings.from_env({"KUBETUNE_NOT_A_SETTING": "x", "HOME": "/root", "PROGRESS_PORT": "1"})
    assert settings == OperatorSettings()


def test_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETUNE_PROGRESS_INTERVAL", "1")
    monkeypatch.setenv("KUBETUNE_NAMESPACES", "ml")
    settings = OperatorSettings.from_env()
    assert (settings.progress_interval, settings.namespaces) == (1.0, ("ml",))


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        OperatorSettings().progress_port = 1  # type: ignore[misc]


def test_custom_images_are_refused_unless_the_administrator_allows_them() -> None:
    assert not OperatorSettings().image_allowed("ghcr.io/kubetune/trainer:0.1.0")  # empty list: spec.image refused
    settings = OperatorSettings.from_env({"KUBETUNE_ALLOWED_IMAGES": "registry.example.com/ml/*, ghcr.io/x/t:1"})
    assert settings.allowed_images == ("registry.example.com/ml/*", "ghcr.io/x/t:1")
    assert settings.image_allowed("registry.example.com/ml/trainer:2")
    assert settings.image_allowed("ghcr.io/x/t:1")
    assert not settings.image_allowed("ghcr.io/x/t:2")
    assert not settings.image_allowed("registry.example.com/other/trainer:2")


def test_leader_election_settings() -> None:
    settings = OperatorSettings.from_env({"KUBETUNE_LEADER_ELECTION": "off", "KUBETUNE_LEASE_DURATION": "20"})
    assert settings.leader_election is False and settings.lease_duration == 20.0
    assert OperatorSettings().leader_election is True
    assert OperatorSettings().renew_deadline < OperatorSettings().lease_duration
