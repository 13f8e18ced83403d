"""The kubetune wheel holds only what runs in a cluster (issue 9): the operator, the trainer, the CLI and their data,
and none of the test ground (``kubetune_devcluster``: the local control plane, the process node, the demo), the tests
or the benchmarks.

The wheel is built for real, with the build backend pyproject.toml names, from a copy of the working tree (so that a
run beside this one, or the build's own scratch files, cannot interfere). No network: the backend is the one
installed in the test environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO / "operator" / "kubetune"
# What must never ship, wherever it would hide in the wheel.
FORBIDDEN_PARTS = ("kubetune_devcluster", "devcluster", "processnode", "tests", "bench", "conftest.py")
DEV_ONLY_REQUIREMENTS = ("pytest", "cryptography", "urllib3", "kubetune-devcluster", "ruff", "mypy")


def _ignored(directory: str, names: list[str]) -> set[str]:
    # Caches, virtualenvs and earlier builds are not part of the source.
    return {n for n in names if n.startswith(".") or n in ("__pycache__", "build", "dist") or n.endswith(".egg-info")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    tree = tmp_path_factory.mktemp("source") / "kubetune"
    shutil.copytree(REPO, tree, ignore=_ignored)
    out = tree.parent / "dist"
    out.mkdir()
    backend = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["build-backend"]
    hook = f"import importlib, sys; print(importlib.import_module({backend!r}).build_wheel(sys.argv[1]))"
    built = subprocess.run([sys.executable, "-c", hook, str(out)], cwd=tree, capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    name = built.stdout.strip().splitlines()[-1]
    return zipfile.ZipFile(out / name)


def test_only_kubetune_and_its_metadata(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert tops == {"kubetune", "kubetune-0.1.0.dist-info"}


def test_no_test_ground_tests_or_benchmarks(wheel: zipfile.ZipFile) -> None:
    shipped = [name for name in wheel.namelist() if any(part in FORBIDDEN_PARTS for part in name.split("/"))]
    assert shipped == []


def test_every_module_of_the_package_ships(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    modules = {p.relative_to(SOURCE.parent).as_posix() for p in SOURCE.rglob("*.py") if "__pycache__" not in p.parts}
    assert modules - names == set()
    assert {"kubetune/training/main.py", "kubetune/redaction.py", "kubetune/kube/connection.py"} <= modules


def test_data_files_ship(wheel: zipfile.ZipFile) -> None:
    """py.typed, and the database migrations once there are any (alembic.ini, migrations/): a wheel without them
    would install and fail at run time."""
    names = set(wheel.namelist())
    data = {p.relative_to(SOURCE.parent).as_posix() for p in SOURCE.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
            and (p.name in ("py.typed", "alembic.ini", "script.py.mako") or "migrations" in p.parts)}
    assert "kubetune/py.typed" in data
    assert data - names == set()


def test_base_requirements_have_no_dev_tools(wheel: zipfile.ZipFile) -> None:
    metadata = Parser().parsestr(wheel.read("kubetune-0.1.0.dist-info/METADATA").decode())
    base = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert base, "no requirements read"
    assert [r for r in base if r.split(">")[0].split("=")[0].split("[")[0].strip() in DEV_ONLY_REQUIREMENTS] == []
    assert metadata["Name"] == "kubetune"


def test_the_dashboards_templates_styles_scripts_and_chart_library_ship(wheel: zipfile.ZipFile) -> None:
    """Every template and static file (our CSS and script, and Chart.js as `make assets` built it): a dashboard
    without them would serve errors, and one that fetched Chart.js from a CDN would not work air-gapped."""
    names = set(wheel.namelist())
    dashboard = SOURCE / "dashboard"
    files = {p.relative_to(SOURCE.parent).as_posix() for folder in ("templates", "static")
             for p in (dashboard / folder).rglob("*") if p.is_file()}
    assert "kubetune/dashboard/static/vendor/chart.umd.min.js" in files, "run `make assets` first"
    assert {"kubetune/dashboard/templates/base.html", "kubetune/dashboard/static/dashboard.js"} <= files
    assert files - names == set()
