"""The Argo CD health checks, run in a real Lua 5.1 interpreter (Argo CD's gopher-lua implements Lua 5.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lupa import lua51

HEALTH = Path(__file__).resolve().parents[3] / "deploy" / "argocd" / "health"


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)

    def to_lua(value: Any) -> Any:
        if isinstance(value, dict):
            return runtime.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return runtime.table_from([to_lua(v) for v in value])
        return value

    runtime.globals()["obj"] = to_lua(obj)
    script = (HEALTH / f"kubetune.dev_{kind}.lua").read_text()
    result = runtime.execute(script)
    return result["status"], result["message"]


def tj(phase: str | None, **status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"generation": 1}}
    if phase is not None:
        body["status"] = {"phase": phase, "observedGeneration": 1, **status}
    return body


@pytest.mark.parametrize(("phase", "extra", "expected"), [
    (None, {}, "Progressing"),
    ("Pending", {"message": "PersistentVolumeClaim x does not exist"}, "Progressing"),
    ("Queued", {}, "Progressing"),
    ("Running", {"progress": {"percent": 42.4}}, "Progressing"),
    ("Suspended", {}, "Suspended"),
    ("Succeeded", {}, "Healthy"),
    ("Failed", {"reason": "DatasetInvalid", "message": "line 3: empty content"}, "Degraded"),
])
def test_trainingjob_health(phase: str | None, extra: dict[str, Any], expected: str) -> None:
    status, _ = health("TrainingJob", tj(phase, **extra))
    assert status == expected


def test_trainingjob_health_messages_carry_progress_and_reason() -> None:
    assert health("TrainingJob", tj("Running", progress={"percent": 42.4}, message="training"))[1] == \
        "Running 42%: training"
    assert health("TrainingJob", tj("Failed", reason="OOMKilled", message="raise memory"))[1] == \
        "OOMKilled: raise memory"


def test_a_stale_status_is_progressing_whatever_its_phase() -> None:
    body = tj("Succeeded")
    body["metadata"]["generation"] = 2
    assert health("TrainingJob", body) == ("Progressing", "the operator has not seen the latest spec yet")


@pytest.mark.parametrize(("phase", "expected"), [
    ("Validating", "Progressing"), ("Deploying", "Progressing"), ("Serving", "Healthy"), ("Ready", "Healthy"),
    ("Degraded", "Degraded"), ("Failed", "Degraded"),
])
def test_finetunedmodel_health(phase: str, expected: str) -> None:
    status, message = health("FineTunedModel", {"metadata": {}, "status": {"phase": phase, "loaded": "2/3",
                                                                           "message": "m"}})
    assert status == expected
    assert message == f"{phase} on 2/3 pods: m"


def test_modelcomparison_health() -> None:
    done = {"metadata": {}, "status": {"phase": "Succeeded", "results": {"verdict": "candidate"}}}
    assert health("ModelComparison", done) == ("Healthy", "verdict: candidate")
    assert health("ModelComparison", {"metadata": {}})[0] == "Progressing"
    assert health("ModelComparison", {"metadata": {}, "status": {"phase": "Failed"}})[0] == "Degraded"
