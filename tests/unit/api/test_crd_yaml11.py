"""The generated CRDs read the same under YAML 1.1, as Go's yaml.v2 (Helm, kubectl) reads them: a printer column
named N was a boolean there, and `helm install` refused the ModelComparison CRD."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
GENERATED = sorted([*(REPO / "crds").glob("*.yaml"), *(REPO / "charts/kubetune/crds").glob("*.yaml"),
                    REPO / "deploy/kubetune.yaml"])


class Yaml11Loader(yaml.SafeLoader):
    """SafeLoader, plus the YAML 1.1 booleans PyYAML leaves out (y, n, and their capitals)."""


Yaml11Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))


@pytest.mark.parametrize("path", GENERATED, ids=lambda p: str(p.relative_to(REPO)))
def test_generated_manifests_read_the_same_under_yaml_1_1(path: Path) -> None:
    text = path.read_text()
    assert list(yaml.load_all(text, Loader=Yaml11Loader)) == list(yaml.safe_load_all(text))


def test_the_comparison_column_n_is_a_string() -> None:
    crd = yaml.load((REPO / "crds/kubetune.dev_modelcomparisons.yaml").read_text(), Loader=Yaml11Loader)
    names = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert "N" in names and all(isinstance(n, str) for n in names)
