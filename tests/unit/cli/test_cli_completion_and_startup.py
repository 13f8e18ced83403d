"""Shell completion scripts that the shells accept, and a --help that loads none of the heavy libraries."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from kubetune.cli import main

COMMANDS = ("train", "watch", "get", "models", "logs", "compare", "history", "dataset", "completion")


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_script_names_every_command_and_parses(shell: str, capsys: pytest.CaptureFixture[str],
                                                          tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    for command in COMMANDS:
        assert command in script
    assert "--all-namespaces" in script and "--kubeconfig" in script
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed")
    path = tmp_path / f"kubetune.{shell}"
    path.write_text(script)
    checked = subprocess.run([binary, "-n", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_bash_completes_subcommands_and_kinds(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    main(["completion", "bash"])
    script = tmp_path / "kubetune.bash"
    script.write_text(capsys.readouterr().out)

    def complete(*words: str) -> set[str]:
        line = " ".join(("kubetune", *words))
        probe = (f"source {script}; COMP_WORDS=(kubetune {' '.join(words)}); COMP_CWORD={len(words)}; "
                 f"COMP_LINE='{line}'; COMP_POINT={len(line)}; _shtab_kubetune; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
        return set(done.stdout.split())

    assert {"train", "watch", "get", "models"} <= complete("")
    assert {"tj", "ftm", "mc"} <= complete("get", "")
    assert {"--kubeconfig", "--namespace"} <= complete("logs", "tj", "x", "--")


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from kubetune import __version__

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"kubetune {__version__}\n"


def test_help_imports_no_heavy_library() -> None:
    probe = ("import sys\nfrom kubetune.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('aiohttp', 'rich', 'pydantic', 'yaml', 'kopf', 'sqlalchemy', 'torch') "
             "if m in sys.modules]\nprint('HEAVY', heavy)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "HEAVY []" in done.stdout, done.stdout
