"""kubetune history: a clear error while the mirror (kubetune.store) is absent, and the rendering of its rows."""

from __future__ import annotations

import importlib.util

import pytest
from rich.console import Console

from kubetune.cli import main
from kubetune.cli.errors import EXIT_USAGE
from kubetune.cli.history import HistoryRow, table_rows

ROWS = [
    HistoryRow("TrainingJob", "kubetune-demo", "facts", "Succeeded", started="2026-12-01T10:00:00Z",
               finished="2026-12-01T10:03:00Z", model="facts-v1", final_loss=0.4123, eval_loss=0.52, steps=200),
    HistoryRow("ModelComparison", "kubetune-demo", "facts-v1-vs-tiny-llama", "Succeeded",
               model="facts-v1 vs tiny-llama", verdict="candidate", win_rate=0.64, finished="2026-12-01T10:06:00Z"),
    HistoryRow("TrainingJob", "team-b", "bad-data", "Failed", reason="DatasetInvalid"),
]


@pytest.mark.skipif(importlib.util.find_spec("kubetune.store") is not None, reason="the mirror is installed")
def test_without_the_mirror_history_says_so_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--database-url", "postgresql://localhost/kubetune"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "kubetune.store" in err and "kubetune get tj,mc" in err


def test_history_needs_a_database_url(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBETUNE_DATABASE_URL", raising=False)
    assert main(["history"]) == EXIT_USAGE
    assert "give --database-url or set KUBETUNE_DATABASE_URL" in capsys.readouterr().err


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
