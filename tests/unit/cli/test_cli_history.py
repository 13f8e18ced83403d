"""kubetune history: past runs from the database mirror (deleted objects included), a one-line error when it cannot
be read, and the rendering of its rows."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from rich.console import Console

from kubetune.cli import main
from kubetune.cli.errors import EXIT_CLUSTER
from kubetune.cli.history import HistoryRow, table_rows
from kubetune.store import Mirror, upgrade

ROWS = [
    HistoryRow("TrainingJob", "kubetune-demo", "facts", "Succeeded", started="2026-12-01T10:00:00Z",
               finished="2026-12-01T10:03:00Z", model="facts-v1", final_loss=0.4123, eval_loss=0.52, steps=200),
    HistoryRow("ModelComparison", "kubetune-demo", "facts-v1-vs-tiny-llama", "Succeeded",
               model="facts-v1 vs tiny-llama", verdict="candidate", win_rate=0.64, finished="2026-12-01T10:06:00Z"),
    HistoryRow("TrainingJob", "team-b", "bad-data", "Failed", reason="DatasetInvalid"),
]


def test_history_reads_the_mirror_including_deleted_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A real embedded mirror (SQLite), written by the operator's own writer from watch events.
    url = f"sqlite:///{tmp_path / 'kubetune.db'}"
    upgrade(url)

    async def mirror_events() -> None:
        mirror = Mirror(url)
        await mirror.start()
        job = {"apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob",
               "metadata": {"name": "support-bot", "namespace": "kubetune-demo", "uid": "u-1",
                            "resourceVersion": "7", "creationTimestamp": "2026-12-01T10:00:00Z"},
               "spec": {"output": {"modelName": "support-bot"}},
               "status": {"phase": "Succeeded", "modelRef": {"name": "support-bot-v1"},
                          "completionTime": "2026-12-01T10:03:00Z",
                          "metrics": {"trainLoss": 0.4123, "evalLoss": 0.52, "steps": 160}}}
        mirror.observe("ADDED", job)
        mirror.observe("DELETED", {**job, "metadata": {**job["metadata"], "resourceVersion": "8"}})
        await mirror.flush(10)
        await mirror.stop()

    asyncio.run(mirror_events())
    assert main(["history", "--database-url", url, "-o", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"kind": "TrainingJob", "namespace": "kubetune-demo", "name": "support-bot",
                     "phase": "Succeeded", "started": "2026-12-01T10:00:00Z", "finished": "2026-12-01T10:03:00Z",
                     "model": "support-bot-v1", "final_loss": 0.4123, "eval_loss": 0.52, "steps": 160}]


def test_an_unreachable_mirror_is_one_line_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--database-url", "postgresql://kubetune:s3cret-pw@127.0.0.1:9/kubetune"]) == \
        EXIT_CLUSTER
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot read the mirror" in err and "s3cret-pw" not in err


def test_rows_show_final_loss_and_verdicts() -> None:
    head, rows = table_rows(ROWS, wide=False, namespaces=True)
    assert head == ["NAMESPACE", "KIND", "NAME", "PHASE", "MODEL", "FINAL LOSS", "VERDICT", "FINISHED"]
    assert rows[0][:7] == ["kubetune-demo", "tj", "facts", "Succeeded", "facts-v1", "0.4123", "-"]
    assert rows[1][1:7] == ["mc", "facts-v1-vs-tiny-llama", "Succeeded", "facts-v1 vs tiny-llama", "-", "candidate"]
    assert rows[2][-1] == "-"
    head, rows = table_rows(ROWS, wide=True, namespaces=False)
    assert head[-4:] == ["EVAL LOSS", "STEPS", "WIN RATE", "REASON"]
    assert rows[0][-4:] == ["0.52", "200", "-", "-"] and rows[1][-2] == "0.64" and rows[2][-1] == "DatasetInvalid"
    console = Console(width=150, record=True, color_system=None)
    from kubetune.cli.output import print_table

    print_table(console, head, rows)
    assert "DatasetInvalid" in console.export_text()
