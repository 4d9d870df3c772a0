"""``bantay train``, ``score`` and ``check-drift``: their arguments, and the mistakes a person makes
typing them, each refused on one line before any store is opened (the whole run is in
tests/integration/test_cli_first_run.py)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bantay.cli import build_parser, main
from bantay.cli.runs import day_arg
from bantay.settings import get_settings


@pytest.fixture
def models(monkeypatch):
    """Configure the given models (``BANTAY_MODELS``), with settings read again."""

    def configure(*entries: dict) -> None:
        monkeypatch.setenv("BANTAY_MODELS", json.dumps(list(entries)))
        monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
        get_settings.cache_clear()

    yield configure
    get_settings.cache_clear()


def error_of(capsys, *argv: str) -> str:
    """The run's one error line; it failed with exit 2 and printed no result."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), err
    [line] = err.splitlines()
    assert line.startswith("bantay: error: ")
    return line


def test_each_command_takes_a_model_and_its_day():
    parser = build_parser()
    train = parser.parse_args(["train", "learner_risk", "--as-of", "2026-11-01", "--publish"])
    assert (train.model, train.as_of, train.publish, train.reason) == (
        "learner_risk",
        "2026-11-01",
        True,
        None,
    )
    for command in ("score", "check-drift"):
        args = parser.parse_args([command, "learner_risk", "--day", "2026-11-30"])
        assert (args.model, args.day) == ("learner_risk", "2026-11-30")
        assert parser.parse_args([command, "learner_risk"]).day is None


@pytest.mark.parametrize("command", ["train", "score", "check-drift"])
def test_the_model_is_required(command, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([command])
    assert exited.value.code == 2
    assert "the following arguments are required: model" in capsys.readouterr().err


def test_the_default_day_is_yesterday_in_utc():
    assert day_arg(None, "--day") == dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    assert day_arg("2026-11-30", "--day") == dt.date(2026, 11, 30)


@pytest.mark.promise(
    "CLI",
    "a misspelt model name given to train, score or check-drift",
    says="Refused on one line before anything is opened, naming the configured models and the "
    "closest one.",
)
@pytest.mark.parametrize("command", ["train", "score", "check-drift"])
def test_an_unknown_model_names_the_configured_ones_with_a_guess(command, capsys, models):
    models({"name": "learner_risk"}, {"name": "dropout_risk", "feature_service": "learner_risk_v1"})
    line = error_of(capsys, command, "dropuot_risk")
    assert "unknown model 'dropuot_risk' (did you mean 'dropout_risk'?)" in line
    assert "configured models: ['learner_risk', 'dropout_risk']" in line


def test_an_unknown_model_without_a_close_name_has_no_guess(capsys, models):
    models({"name": "learner_risk"})
    line = error_of(capsys, "score", "churn")
    assert "unknown model 'churn'; configured models: ['learner_risk']" in line


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["score", "learner_risk", "--day", "2026-13-01"], "--day '2026-13-01' is not a date"),
        (["check-drift", "learner_risk", "--day", "yesterday"], "--day 'yesterday' is not a date"),
        (["train", "learner_risk", "--as-of", "30/11/2026"], "--as-of '30/11/2026' is not a date"),
    ],
)
def test_a_day_that_is_not_a_date_says_the_format(argv, said, capsys, models):
    models({"name": "learner_risk"})
    line = error_of(capsys, *argv)
    assert said in line and line.endswith("use YYYY-MM-DD")


def test_publish_is_refused_when_a_person_approves(capsys, models):
    models({"name": "learner_risk", "approval": "manual"})
    line = error_of(capsys, "train", "learner_risk", "--publish")
    assert "model learner_risk has approval: manual" in line
    assert "approves it in the UI" in line
