"""API keys come from the environment by variable name and are redacted from logs and messages."""

from __future__ import annotations

import logging

import pytest

from kubetune.evaluation.errors import ConfigInvalid
from kubetune.evaluation.secrets import REDACTED, RedactingFilter, Secrets

KEY = "sk-test-0123456789abcdef"


def test_a_key_is_read_by_name_and_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETUNE_BASELINE_API_KEY", KEY)
    secrets = Secrets()
    assert secrets.api_key("KUBETUNE_BASELINE_API_KEY", "baseline") == KEY
    assert secrets.redact(f"401 for Bearer {KEY}") == f"401 for Bearer {REDACTED}"
    assert secrets.api_key(None, "candidate") is None


def test_an_unset_variable_is_named_not_valued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBETUNE_JUDGE_API_KEY", raising=False)
    with pytest.raises(ConfigInvalid, match=r"judge.apiKeyEnv: environment variable KUBETUNE_JUDGE_API_KEY is not set"):
        Secrets().api_key("KUBETUNE_JUDGE_API_KEY", "judge")


def test_the_logging_filter_redacts_formatted_records(monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("K", KEY)
    secrets = Secrets()
    secrets.api_key("K", "baseline")
    logger = logging.getLogger("test.redaction")
    caplog.handler.addFilter(RedactingFilter(secrets))
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("headers: %s", {"Authorization": f"Bearer {KEY}"})
    assert KEY not in caplog.text and REDACTED in caplog.text
