"""Daily scoring and the shadow: the staged version is checked against the registry before it is
loaded, and a refused shadow is reported without stopping production scoring; every scored
learner gets reasons and attributions that add up to the score."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bantay.monitoring.frames import prepare
from bantay.serving.scoring import checked_shadow, score_frame
from bantay.settings import DriftConfig, ExplainConfig
from bantay.training.explain import version_explanation
from bantay.training.pipeline import fit_final, predict_scores
from bantay.vocabulary import ModelStatus
from support.synthetic import FEATURES, make_learner_frame

SHA = "a" * 64


class _Store:
    """The shadow marker as the bucket holds it (``store.pointers.shadow``); loading records
    that it happened."""

    def __init__(self, marker: dict[str, Any] | None) -> None:
        self.marker = marker
        self.loaded: list[str] = []
        self.pointers = SimpleNamespace(shadow=lambda model: self.marker)

    def load_shadow(self, model: str):
        self.loaded.append(self.marker["version"])
        return object(), {"version": self.marker["version"]}, self.marker


class _Registry:
    def __init__(self, status: ModelStatus | None, sha256: str | None = SHA) -> None:
        self.status, self.sha256 = status, sha256
        self.versions = SimpleNamespace(get=self.version)

    def version(self, model: str, version: str):
        if self.status is None:
            return None
        return SimpleNamespace(
            model=model,
            version=version,
            status=self.status,
            artifact_sha256=self.sha256,
            rejection_reason=None,
        )


MARKER = {"model": "m", "version": "v2", "sha256": SHA, "staged_at": dt.datetime.now().isoformat()}


@pytest.mark.parametrize(
    ("registry", "refusal"),
    [
        (_Registry(ModelStatus.REJECTED), "status is 'rejected'"),
        (_Registry(ModelStatus.CANDIDATE), "status is 'candidate'"),
        (_Registry(None), "registry does not know"),
        (_Registry(ModelStatus.APPROVED, sha256="b" * 64), "registry recorded bbbb"),
    ],
    ids=["rejected", "candidate", "unregistered", "other-digest"],
)
def test_a_shadow_the_registry_does_not_vouch_for_is_never_loaded(registry, refusal):
    store = _Store(MARKER)
    found = checked_shadow("m", store, registry)
    assert isinstance(found, str) and refusal in found, found
    assert store.loaded == []


def test_an_approved_shadow_with_its_published_digest_is_loaded():
    store = _Store(MARKER)
    _, manifest = checked_shadow("m", store, _Registry(ModelStatus.APPROVED))
    assert manifest["version"] == "v2" and store.loaded == ["v2"]


def test_no_marker_needs_no_registry():
    assert checked_shadow("m", _Store(None), None) is None


# -- reasons in the prediction log ----------------------------------------------------------


def _fitted(estimator: str):
    """A fitted model, its manifest with the explanation training records, a day to score."""
    train, test = make_learner_frame(3_000, seed=31), make_learner_frame(600, seed=32)
    trial = {"trial_id": estimator, "name": estimator, "estimator": estimator, "params": {}}
    model = fit_final(trial, train, FEATURES)
    explanation = version_explanation(model, train, test, FEATURES.names)
    manifest = {"version": "v1", "features": FEATURES.to_dict(), "explanation": explanation}
    return model, manifest, make_learner_frame(500, seed=33)


@pytest.mark.parametrize("estimator", ["logistic_regression", "hist_gradient_boosting"])
def test_scoring_writes_reasons_and_attributions_that_add_up_to_the_score(estimator, tmp_path):

    model, manifest, frame = _fitted(estimator)
    summary = score_frame(frame, model, manifest, ExplainConfig())
    assert np.array_equal(frame["score"], predict_scores(model, frame, manifest["features"]))
    attrs = [c for c in frame.columns if c.startswith("attr_") and c != "attr_base"]
    assert len(attrs) == 12
    logit = np.log(frame["score"] / (1 - frame["score"]))
    assert np.allclose(frame["attr_base"] + frame[attrs].sum(axis=1), logit, atol=1e-4)
    assert summary["baseline"] == (
        "training rows" if estimator == "logistic_regression" else "tree cover"
    )
    assert summary["rows_with_reasons"] == int(frame["reason_1"].notna().sum()) > 0
    # The riskiest learners are the ones with reasons.
    assert frame.loc[frame["reason_1"].notna(), "score"].mean() > frame["score"].mean()
    # The log round-trips through parquet and the drift check's reader still takes it.
    path = tmp_path / "part-0.parquet"
    frame.to_parquet(path, index=False)
    back = pd.read_parquet(path)
    assert list(back.filter(like="reason_").columns) == [f"reason_{i}" for i in range(1, 5)]
    for column in ("reason_1", "reason_4"):
        assert back[column].astype(object).equals(frame[column].astype(object))
    # Days written with and without reasons still read together (older logs have none).
    older = back.drop(columns=[c for c in back.columns if c.startswith(("reason_", "attr_"))])
    both = pd.concat([older, back], ignore_index=True)
    assert both["reason_1"].iloc[: len(older)].isna().all() and len(both) == 2 * len(back)
    cfg = DriftConfig(target_column="at_risk")
    assert list(prepare(back, cfg, ["score"]).columns) == [
        c for c in dict.fromkeys([*cfg.features, "score"]) if c in back.columns
    ]


def test_scoring_without_explanations_or_baseline():
    """Explanations off: only the score. A version published before baselines were stored:
    explained against the scored day. A baseline that does not fit the model: the day is
    scored without reasons and the summary says why."""
    model, manifest, frame = _fitted("logistic_regression")
    off = frame.copy()
    assert score_frame(off, model, manifest, ExplainConfig(enabled=False))["enabled"] is False
    assert "reason_1" not in off.columns and "score" in off.columns
    old = {k: v for k, v in manifest.items() if k != "explanation"}  # published before reasons
    summary = score_frame(frame, model, old, ExplainConfig())
    assert summary["baseline"] == "scored day" and frame["reason_1"].notna().any()
    stale = {**manifest, "explanation": {"baseline": {"columns": ["x"], "mean": [0.0]}}}
    plain = frame.drop(columns=[c for c in frame.columns if c.startswith(("reason_", "attr_"))])
    summary = score_frame(plain, model, stale, ExplainConfig())
    assert "recompute the baseline" in summary["refused"]
    assert "reason_1" not in plain.columns and plain["score"].notna().all()
