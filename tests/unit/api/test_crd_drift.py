"""crds/ and docs/api.md are generated from the models (`make crds`); this fails when they drift apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetune.api.crdgen import render_all
from kubetune.api.crdgen.__main__ import main

REPO = Path(__file__).resolve().parents[3]


def test_generated_files_match_the_models() -> None:
    files = render_all(REPO, Path("crds"), Path("docs/api.md"), Path("examples"))

    stale = [str(p.relative_to(REPO)) for p, text in files.items() if not p.exists() or p.read_text() != text]

    assert not stale, f"out of date, run `make crds`: {stale}"


def test_crds_directory_holds_only_generated_crds() -> None:
    generated = {p.name for p in render_all(REPO, Path("crds"), Path("docs/api.md"), Path("examples"))
                 if p.parent.name == "crds"}

    assert {p.name for p in (REPO / "crds").glob("*.yaml")} == generated


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").mkdir()

    assert main(["crds", "--check"]) == 1
    assert main(["crds"]) == 0
    assert main(["crds", "--check"]) == 0
    (tmp_path / "crds" / "kubetune.dev_trainingjobs.yaml").write_text("# edited by hand\n")
    assert main(["crds", "--check"]) == 1
