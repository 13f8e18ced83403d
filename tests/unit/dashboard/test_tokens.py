"""The actions' bearer token: where it is read from, and what a browser carries instead of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetune.dashboard.actions.tokens import TOKEN_ENV, TokenMissing, Tokens, load_token

TOKEN = "s3cr3t-token-for-the-dashboard"


def test_from_a_file_then_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    assert load_token(str(path), {}) == TOKEN
    assert load_token(None, {TOKEN_ENV: TOKEN}) == TOKEN


@pytest.mark.parametrize(("file_text", "env", "message"), [
    (None, {}, "--actions needs a bearer token"),
    ("", {}, "is empty"),
    ("short", {}, "shorter than 16"),
])
def test_a_missing_or_weak_token_is_refused(tmp_path: Path, file_text: str | None, env: dict[str, str],
                                             message: str) -> None:
    path = None
    if file_text is not None:
        path = tmp_path / "token"
        path.write_text(file_text)
    with pytest.raises(TokenMissing, match=message):
        load_token(str(path) if path else None, env)


def test_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(TokenMissing, match=r"--token-file .*nope"):
        load_token(str(tmp_path / "nope"), {})


def test_bearer_cookie_and_csrf_are_checked_and_never_reveal_the_token() -> None:
    tokens = Tokens(TOKEN)
    assert tokens.bearer_ok(f"Bearer {TOKEN}")
    assert not tokens.bearer_ok(f"Bearer {TOKEN}x") and not tokens.bearer_ok(TOKEN) and not tokens.bearer_ok(None)
    assert tokens.cookie_ok(tokens.cookie_value) and not tokens.cookie_ok(None) and not tokens.cookie_ok("x")
    assert tokens.csrf_ok(tokens.csrf) and not tokens.csrf_ok(tokens.cookie_value)
    assert TOKEN not in tokens.cookie_value + tokens.csrf
    assert Tokens("another-token-entirely").cookie_value != tokens.cookie_value
