"""``kubetune dataset validate`` prints a readable report and sets its exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetune.cli import build_parser, main

GOOD = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_valid_file_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, [GOOD] * 3)
    assert main(["dataset", "validate", str(path), "--format", "openai"]) == 0
    out = capsys.readouterr().out
    assert f"{path}: 3 rows, format openai" in out
    assert "valid     3" in out and "rejected  0 (0.00%)" in out and out.rstrip().endswith("PASS")


def test_invalid_rows_are_listed_with_line_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_role = json.dumps({"messages": [{"role": "bot", "content": "x"}]})
    path = write(tmp_path, [GOOD, "{oops", bad_role, GOOD])
    assert main(["dataset", "validate", str(path), "-f", "openai"]) == 1
    out = capsys.readouterr().out
    assert "line 2: (line): not valid JSON: Expecting property name enclosed in double quotes (column 2)" in out
    assert "line 3: messages[0].role: unknown role 'bot'" in out
    assert "invalid_json" in out and "unknown_role" in out
    assert "FAIL: 50.00% of rows are invalid; at most 0.00% allowed" in out
    # The same file passes under a TrainingJob's looser rejection policy.
    assert main(["dataset", "validate", str(path), "-f", "openai", "--max-rejected-fraction", "0.5"]) == 0


def test_token_lengths_with_the_model_tokenizer(tmp_path: Path, tiny_model: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    long = json.dumps({"messages": [{"role": "user", "content": "word " * 100}, {"role": "assistant", "content": "x"}]})
    path = write(tmp_path, [GOOD, long])
    code = main(["dataset", "validate", str(path), "-f", "openai", "--tokenizer", str(tiny_model),
                 "--max-seq-length", "32"])
    out = capsys.readouterr().out
    assert code == 1
    assert "line 2: (example):" in out and "more than maxSeqLength 32" in out
    assert "tokens    " in out and "(maxSeqLength 32)" in out


def test_max_seq_length_needs_a_tokenizer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, [GOOD])
    assert main(["dataset", "validate", str(path), "-f", "openai", "--max-seq-length", "10"]) == 2
    assert "needs --tokenizer" in capsys.readouterr().err


def test_missing_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dataset", "validate", str(tmp_path / "none.jsonl"), "-f", "text"]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_parser_has_room_for_more_command_groups() -> None:
    parser = build_parser()
    args = parser.parse_args(["dataset", "export", "--database-url", "postgresql://x", "-q", "select 1", "-f",
                              "text", "-o", "out.jsonl", "-m", "text=body", "-m", "x=y"])
    assert args.mapping == [("text", "body"), ("x", "y")] and args.handler.__name__ == "dataset_export"
    with pytest.raises(SystemExit):
        parser.parse_args(["dataset", "export", "-q", "q", "-f", "text", "-o", "o", "-m", "nocolumn"])


def test_operator_options_pass_through_and_kopf_stays_unimported() -> None:
    import subprocess
    import sys

    args, extra = build_parser().parse_known_args(["operator", "-n", "ml", "--verbose"])
    assert (args.command, extra) == ("operator", ["-n", "ml", "--verbose"])
    probe = "import sys, kubetune.cli as c; c.build_parser(); print('kopf' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # the dataset commands do not pay for importing the operator
