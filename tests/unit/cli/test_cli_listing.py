"""What kubetune get and kubetune models print, from realistic objects."""

from __future__ import annotations

from cli_objects import finetunedmodel, trainingjob

from kubetune.cli.columns import headers, row
from kubetune.cli.kinds import FINETUNEDMODEL, MODELCOMPARISON, TRAININGJOB
from kubetune.cli.models import as_data, group_versions, model_name, rows


def test_trainingjob_columns_show_progress_loss_and_the_model() -> None:
    running = trainingjob(reason="Training", progress={"step": 120, "totalSteps": 900, "percent": 13.3, "loss": 1.2345,
                                                      "etaSeconds": 1800, "tokensPerSecond": 5400.0})
    assert headers(TRAININGJOB, wide=False, namespaces=False) == ["NAME", "PHASE", "PROGRESS", "LOSS", "MODEL", "AGE"]
    assert row(TRAININGJOB, running, wide=False, namespaces=False)[:5] == ["facts", "Running", "120/900 (13%)",
                                                                          "1.234", "-"]
    wide = dict(zip(headers(TRAININGJOB, True, True), row(TRAININGJOB, running, True, True), strict=True))
    assert wide["NAMESPACE"] == "kubetune-demo" and wide["ETA"] == "30:00" and wide["TOKENS/S"] == "5,400"
    assert wide["REASON"] == "Training"
    done = trainingjob(phase="Succeeded", modelRef={"name": "facts-v3"}, metrics={"trainLoss": 0.51})
    assert row(TRAININGJOB, done, False, False)[1:5] == ["Succeeded", "-", "0.51", "facts-v3"]


def test_finetunedmodel_and_comparison_columns() -> None:
    ftm = finetunedmodel("facts-v1", "facts", [("vllm-a", True), ("vllm-b", False)])
    assert row(FINETUNEDMODEL, ftm, False, False)[:4] == ["facts-v1", "facts-v1", "1/2", "Degraded"]
    assert "vllm(1/2)" in row(FINETUNEDMODEL, ftm, True, False)
    mc = {"metadata": {"name": "ab", "creationTimestamp": None},
          "spec": {"baseline": {"servedName": "tiny-llama"}, "candidate": {"fineTunedModelRef": {"name": "facts-v1"}}},
          "status": {"phase": "Succeeded", "results": {"verdict": "candidate",
                                                       "winRate": {"candidate": 0.64, "ci95": [0.57, 0.7]}}}}
    assert row(MODELCOMPARISON, mc, True, False) == ["ab", "Succeeded", "candidate", "0.64 [0.57, 0.70]",
                                                     "tiny-llama", "ftm/facts-v1", "-", "<unknown>"]


def test_versions_are_grouped_by_model_name_in_version_order() -> None:
    ftms = [finetunedmodel("facts-v10", "facts", [("p1", True)]),
            finetunedmodel("facts-v2", "facts", [("p1", True), ("p2", True)]),
            finetunedmodel("support-bot-v1", "support-bot", []),
            # Written by hand: no label, grouped by its name's -v<N>, or its servedName.
            finetunedmodel("facts-v1", None, [("p1", False)]),
            finetunedmodel("handmade", None, [])]
    groups = group_versions(ftms)
    assert [(g.model, [v.name for v in g.versions]) for g in groups] == [
        ("facts", ["facts-v1", "facts-v2", "facts-v10"]), ("handmade", ["handmade"]),
        ("support-bot", ["support-bot-v1"])]
    assert model_name(ftms[0]) == ("facts", 10)
    head, table = rows(groups, wide=False, namespaces=False)
    assert head == ["MODEL", "VERSION", "SERVED NAME", "PHASE", "LOADED", "WHERE", "AGE"]
    assert table[0][:6] == ["facts", "v1", "facts-v1", "Degraded", "0/1", "vllm 0/1"]
    assert table[1][:6] == ["", "v2", "facts-v2", "Serving", "2/2", "vllm 2/2"]
    assert table[3][:2] == ["handmade", "handmade"]


def test_wide_models_has_a_row_per_pod() -> None:
    groups = group_versions([finetunedmodel("facts-v2", "facts", [("vllm-a", True), ("vllm-b", False)])])
    head, table = rows(groups, wide=True, namespaces=True)
    assert head[:8] == ["NAMESPACE", "MODEL", "VERSION", "SERVED NAME", "DEPLOYMENT", "POD", "IP", "LOADED"]
    assert [r[5:8] for r in table] == [["vllm-a", "127.9.0.1", "yes"], ["vllm-b", "127.9.0.2",
                                                                          "no: connection refused"]]
    data = as_data(groups)
    assert data[0]["versions"][0]["pods"][1] == {"deployment": "vllm", "name": "vllm-b", "ip": "127.9.0.2",
                                                 "loaded": False, "loadedAt": None}


def test_json_and_yaml_are_printed_verbatim(capsys) -> None:  # type: ignore[no-untyped-def]
    # managedFields hold keys like "f:key": rich must not turn ":key:" into an emoji, nor [x] into markup.
    from kubetune.cli.output import console, dump

    obj = {"metadata": {"managedFields": [{"fieldsV1": {"f:key": {}, "f:name": {}}}]}, "spec": {"note": "[bold]x"}}
    dump(console(), obj, "yaml")
    dump(console(), obj, "json")
    out = capsys.readouterr().out
    assert out.count("f:key") == 2 and "🔑" not in out and out.count("[bold]x") == 2
