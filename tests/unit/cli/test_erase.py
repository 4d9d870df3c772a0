"""``bantay erase`` on the mistakes a person makes: a bad id, no erasure key, no reason: a
non-zero exit and one ``bantay: error:`` naming the input and the fix, never a traceback, and
nothing written. Run as a subprocess, as a person would."""

from __future__ import annotations

from support import cli as cli_support
from support.cli import error_text, run_bantay

env = cli_support.env  # the fixture: a clean deployment environment


def test_a_bad_learner_id_is_named(env, tmp_path):
    done = run_bantay(env, "erase", "10O42", "--reason", "family request")
    message = error_text(done, 2)
    assert "'10O42'" in message and "whole number" in message
    assert not (tmp_path / "data" / "erasure").exists()


def test_no_erasure_key_says_where_to_set_it(env, tmp_path):
    done = run_bantay(env, "erase", "100042", "--reason", "family request", "--dry-run")
    message = error_text(done, 2)
    assert "BANTAY_ERASURE_KEY" in message and "bantay_erasure" in message
    assert not (tmp_path / "data" / "erasure").exists()


def test_a_short_key_is_refused(env):
    done = run_bantay({**env, "BANTAY_ERASURE_KEY": "short"}, "erase", "1", "--reason", "r")
    assert "at least 16 characters" in error_text(done, 2)


def test_an_empty_reason_is_refused(env):
    key = {"BANTAY_ERASURE_KEY": "k" * 32}
    done = run_bantay({**env, **key}, "erase", "100042", "--reason", " ")
    assert "--reason is empty" in error_text(done, 2)
