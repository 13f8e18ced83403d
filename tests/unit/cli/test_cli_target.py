"""Which cluster and namespace a command talks to, resolved as kubectl resolves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetune.cli.errors import EXIT_USAGE, UsageError
from kubetune.cli.kubeconfig import resolve_target


def test_the_contexts_namespace_is_the_default(kubeconfig: Path) -> None:
    target = resolve_target(str(kubeconfig), None, None)
    assert (target.context, target.namespace, target.namespace_from_flag) == ("team", "ml-team", False)


def test_dash_n_wins_and_a_context_without_namespace_means_default(kubeconfig: Path) -> None:
    assert resolve_target(str(kubeconfig), None, "other").namespace == "other"
    assert resolve_target(str(kubeconfig), None, "other").namespace_from_flag
    assert resolve_target(str(kubeconfig), "plain", None).namespace == "default"


def test_kubeconfig_env_takes_the_first_existing_file(kubeconfig: Path, tmp_path: Path) -> None:
    env = {"KUBECONFIG": f"{tmp_path / 'missing'}:{kubeconfig}", "HOME": str(tmp_path)}
    assert resolve_target(None, None, None, environ=env).kubeconfig == str(kubeconfig)


@pytest.mark.parametrize(("kubeconfig_arg", "context", "message"), [
    ("missing.yaml", None, "--kubeconfig missing.yaml: no such file"),
    (None, "nope", "context 'nope' is not in kubeconfig"),
])
def test_bad_kubeconfig_or_context_is_a_usage_error(kubeconfig: Path, kubeconfig_arg: str | None,
                                                     context: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        resolve_target(kubeconfig_arg or str(kubeconfig), context, None)
    assert caught.value.exit_code == EXIT_USAGE
    if context:
        assert "team, plain" in str(caught.value)


def test_no_kubeconfig_anywhere_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="pass --kubeconfig FILE or set KUBECONFIG"):
        resolve_target(None, None, None, environ={"HOME": str(tmp_path)})
