"""Every cluster command fails on one line with a meaningful exit code: a bad flag (2) and an unreachable cluster (3).
The cluster is a real closed port, so the connection is really refused. (A missing object needs a cluster:
tests/e2e/test_cli_errors_on_cluster.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetune.cli import main
from kubetune.cli.errors import EXIT_CLUSTER, EXIT_USAGE

REPO = Path(__file__).resolve().parents[3]
TRAININGJOB = str(REPO / "examples" / "demo" / "03-trainingjob.yaml")


def commands(tmp_path: Path) -> dict[str, list[str]]:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt": "What is the capital of France?", "reference": "Paris"}) + "\n")
    return {
        "get": ["get"], "get-one": ["get", "tj", "facts"], "models": ["models"], "logs": ["logs", "tj", "facts"],
        "watch": ["watch", "tj", "facts"], "train": ["train", "-f", TRAININGJOB],
        "compare": ["compare", "tiny-llama", "facts-v1", "--prompts", str(prompts), "--endpoint", "vllm"],
    }


NAMES = ["get", "get-one", "models", "logs", "watch", "train", "compare"]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("name", NAMES)
def test_unreachable_cluster(name: str, kubeconfig: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*commands(tmp_path)[name], "--kubeconfig", str(kubeconfig)]
    assert main(argv) == EXIT_CLUSTER
    line = one_error_line(capsys)
    assert line.startswith("kubetune: cannot reach the cluster at https://127.0.0.1:"), line


@pytest.mark.parametrize("name", [*NAMES, "history"])
def test_bad_flag(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*commands(tmp_path).get(name, ["history"]), "--no-such-flag"]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == EXIT_USAGE
    line = one_error_line(capsys)
    assert f"kubetune {argv[0]}: error: unrecognized arguments: --no-such-flag" in line
    assert f"(see kubetune {argv[0]}" in line and "--help)" in line


@pytest.mark.parametrize(("argv", "expected"), [
    (["get", "pods"], "argument KIND: invalid choice: 'pods'"),
    (["watch", "ftm", "x"], "argument KIND: invalid choice: 'ftm'"),
    (["get", "-o", "xml"], "argument -o/--output: invalid choice: 'xml'"),
    (["completion", "fish"], "invalid choice: 'fish'"),
])
def test_bad_values_are_one_line_too(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == EXIT_USAGE
    assert expected in one_error_line(capsys)


def test_a_missing_kubeconfig_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "--kubeconfig", str(tmp_path / "nope")]) == EXIT_USAGE
    assert one_error_line(capsys) == f"kubetune: --kubeconfig {tmp_path / 'nope'}: no such file"


def test_dash_n_and_dash_a_do_not_mix(kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "-n", "x", "-A", "--kubeconfig", str(kubeconfig)]) == EXIT_USAGE
    assert "pass -n NAMESPACE or -A, not both" in one_error_line(capsys)
