"""Trigger forms a person can submit: every default validates, and a text field left empty (the
form sends null) is accepted, except the fields that are required on purpose."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# (dag_id, param): why a person must fill it in before Trigger is enabled.
REQUIRED_ON_PURPOSE = {
    ("bantay_rollback", "reason"): "a rollback needs a reason; it is kept in the audit log",
    ("bantay_rebaseline", "reason"): "a re-baseline needs a reason; it is kept in the registry",
    ("bantay_shadow", "reason"): "a shadow change needs a reason; it is kept in the marker",
}


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags


def _accepts(param, value) -> bool:
    from airflow.sdk.exceptions import ParamValidationError

    try:
        copy.deepcopy(param).resolve(value=value)
    except (ParamValidationError, ValueError, TypeError):
        return False
    return True


def _params(dags):
    for dag_id, dag in sorted(dags.items()):
        for name in dag.params:
            yield dag_id, name, dag.params.get_param(name)


def test_every_default_validates(dags):
    bad = [
        (dag_id, name, param.value)
        for dag_id, name, param in _params(dags)
        if (dag_id, name) not in REQUIRED_ON_PURPOSE and not _accepts(param, param.value)
    ]
    assert not bad, f"defaults the trigger form would refuse: {bad}"


def test_text_fields_left_empty_are_accepted_unless_required_on_purpose(dags):
    bad = []
    for dag_id, name, param in _params(dags):
        if "string" not in str(param.schema.get("type", "")):
            continue
        if (dag_id, name) in REQUIRED_ON_PURPOSE:
            assert not _accepts(param, None), f"{dag_id}.{name} must be required"
        elif not _accepts(param, None):
            bad.append(f"{dag_id}.{name}")
    assert not bad, f"these fields block Trigger until filled in: {bad}"


def test_required_fields_are_still_in_the_forms(dags):
    for dag_id, name in REQUIRED_ON_PURPOSE:
        assert name in dags[dag_id].params, f"{dag_id} lost its {name!r} field"
