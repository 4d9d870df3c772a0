"""The local stack's lineage configuration: the provider's file transport by default, the
caller's transport when one is set, and never source code or full task info."""

from __future__ import annotations

import json

from airflow_local import openlineage_env


def test_default_is_a_file_transport_under_the_workdir(tmp_path):
    env = openlineage_env(tmp_path, {})
    transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport["type"] == "file" and transport["append"] is True
    assert transport["log_file_path"] == str(tmp_path / "openlineage" / "events.jsonl")
    assert (tmp_path / "openlineage").is_dir()
    assert env["AIRFLOW__OPENLINEAGE__DISABLE_SOURCE_CODE"] == "True"
    assert env["AIRFLOW__OPENLINEAGE__INCLUDE_FULL_TASK_INFO"] == "False"


def test_a_transport_set_by_the_caller_is_kept(tmp_path):
    mine = json.dumps({"type": "http", "url": "http://127.0.0.1:5000"})
    env = openlineage_env(tmp_path, {"AIRFLOW__OPENLINEAGE__TRANSPORT": mine})
    assert env["AIRFLOW__OPENLINEAGE__TRANSPORT"] == mine
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "bantay"
