"""`kubetune dashboard` refuses what it cannot serve, on one line naming the flag, before it listens."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetune.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["--actions", "--no-cluster"], "--actions needs the Kubernetes API: drop --no-cluster"),
    (["--actions", "--kubeconfig", "/nonexistent/kubeconfig"], "--actions needs a bearer token"),
    (["--refresh", "10"], "--refresh must be between 1 and 5 seconds"),
    (["--port", "70000"], "--port 70000: not a port"),
    (["--database-url", "mysql://x/y", "--no-cluster"], "unsupported database 'mysql'"),
])
def test_bad_flags_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBETUNE_DASHBOARD_TOKEN", raising=False)
    monkeypatch.setenv("KUBETUNE_STATE_DIR", str(tmp_path))
    assert main(["dashboard", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_actions_without_a_reachable_kubeconfig_say_why(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("a-long-enough-token-for-actions")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main(["dashboard", "--actions", "--token-file", str(token), "--kubeconfig", str(tmp_path / "no")]) == 2
    assert "--actions needs the Kubernetes API: no Kubernetes API configured" in capsys.readouterr().err
