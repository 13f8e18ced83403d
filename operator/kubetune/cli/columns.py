"""What ``kubetune get`` shows of each kind: the columns of ``-o table`` and the extra ones of ``-o wide``.

Pure functions of the raw objects (plain dicts, so a status field a newer operator adds never breaks a listing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .kinds import FINETUNEDMODEL, MODELCOMPARISON, TRAININGJOB, Kind
from .output import age, duration, number

Json = dict[str, Any]
Column = tuple[str, Callable[[Json], str], bool]  # header, cell, wide only


def _status(obj: Json) -> Json:
    return obj.get("status") or {}


def _text(value: Any) -> str:
    return "-" if value in (None, "") else str(value)


def training_progress(obj: Json) -> str:
    progress = _status(obj).get("progress") or {}
    step, total = progress.get("step"), progress.get("totalSteps")
    if step is None:
        return "-"
    percent = progress.get("percent")
    text = f"{step}/{total}" if total else str(step)
    return f"{text} ({percent:.0f}%)" if percent is not None else text


def training_loss(obj: Json) -> str:
    status = _status(obj)
    final = (status.get("metrics") or {}).get("trainLoss")
    loss = (status.get("progress") or {}).get("loss")
    return number(loss if loss is not None else final, 4)


def _model_ref(obj: Json) -> str:
    ref = _status(obj).get("modelRef") or {}
    return _text(ref.get("name"))


def _win_rate(obj: Json) -> str:
    rate = ((_status(obj).get("results") or {}).get("winRate") or {})
    value = rate.get("candidate")
    if value is None:
        return "-"
    ci = rate.get("ci95")
    return f"{value:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci and len(ci) == 2 else f"{value:.2f}"


def _side(obj: Json, side: str) -> str:
    model = (obj.get("spec") or {}).get(side) or {}
    if model.get("fineTunedModelRef"):
        return f"ftm/{model['fineTunedModelRef'].get('name')}"
    return _text(model.get("servedName"))


def _targets(obj: Json) -> str:
    targets = _status(obj).get("targets") or []
    return ",".join(f"{t.get('deployment')}({t.get('loadedReplicas', 0)}/{t.get('readyReplicas', 0)})"
                    for t in targets) or "-"


COLUMNS: dict[Kind, tuple[Column, ...]] = {
    TRAININGJOB: (
        ("PHASE", lambda o: _text(_status(o).get("phase")), False),
        ("PROGRESS", training_progress, False),
        ("LOSS", training_loss, False),
        ("ETA", lambda o: duration((_status(o).get("progress") or {}).get("etaSeconds"))
            if _status(o).get("phase") == "Running" else "-", True),
        ("TOKENS/S", lambda o: number((_status(o).get("progress") or {}).get("tokensPerSecond"), 4), True),
        ("MODEL", _model_ref, False),
        ("REASON", lambda o: _text(_status(o).get("reason")), True),
    ),
    FINETUNEDMODEL: (
        ("SERVED", lambda o: _text((o.get("spec") or {}).get("servedName")), False),
        ("LOADED", lambda o: _text(_status(o).get("loaded")), False),
        ("PHASE", lambda o: _text(_status(o).get("phase")), False),
        ("BASE", lambda o: _text(((o.get("spec") or {}).get("baseModel") or {}).get("name")), True),
        ("TARGETS", _targets, True),
        ("REASON", lambda o: _text(_status(o).get("reason")), True),
    ),
    MODELCOMPARISON: (
        ("PHASE", lambda o: _text(_status(o).get("phase")), False),
        ("VERDICT", lambda o: _text((_status(o).get("results") or {}).get("verdict")), False),
        ("WIN RATE", _win_rate, False),
        ("BASELINE", lambda o: _side(o, "baseline"), True),
        ("CANDIDATE", lambda o: _side(o, "candidate"), True),
        ("REASON", lambda o: _text(_status(o).get("reason")), True),
    ),
}


def headers(kind: Kind, wide: bool, namespaces: bool) -> list[str]:
    cols = [c[0] for c in COLUMNS[kind] if wide or not c[2]]
    return (["NAMESPACE"] if namespaces else []) + ["NAME", *cols, "AGE"]


def row(kind: Kind, obj: Json, wide: bool, namespaces: bool) -> list[str]:
    meta = obj.get("metadata") or {}
    cells = [cell(obj) for _, cell, wide_only in COLUMNS[kind] if wide or not wide_only]
    return ([meta.get("namespace", "")] if namespaces else []) + [meta.get("name", ""), *cells,
                                                                  age(meta.get("creationTimestamp"))]
