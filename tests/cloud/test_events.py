"""The checked-in example events (tests/events/*.json) keep the shapes the functions receive on AWS."""

import json
from pathlib import Path

import pytest

from conftest import REPO
from s3events import s3_put_event

EVENTS = REPO / "tests/events"
JOB_SPEC_FIELDS = {"jobId", "prefix", "inputKey", "designKey", "params"}


def shape(value):
    """The key structure of a JSON value (dict keys and nesting; list items by their first element's shape)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.mark.parametrize("stage", ["qc", "de", "pathway"])
def test_stage_events_are_job_specs(stage):
    spec = json.loads((EVENTS / f"{stage}.json").read_text())
    assert set(spec) == JOB_SPEC_FIELDS
    assert spec["prefix"] == f"jobs/{spec['jobId']}/"
    assert spec["inputKey"].startswith(f"uploads/api/{spec['jobId']}/"), "API uploads land under uploads/api/<id>/"
    assert spec["designKey"] == spec["prefix"] + "input/design.tsv"
    assert len(json.dumps(spec).encode()) <= 2048


def test_api_event_is_an_http_api_v2_get_jobs():
    event = json.loads((EVENTS / "api.json").read_text())
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /jobs" and event["rawPath"] == "/jobs"
    assert event["requestContext"]["http"]["method"] == "GET"
    # What API Gateway's JWT authorizer adds: the function takes the caller from the `sub` claim.
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]


def test_ingest_event_has_the_same_shape_as_the_harness_s3_events():
    checked_in = json.loads((EVENTS / "ingest.json").read_text())
    harness = s3_put_event("b", "us-east-1", "uploads/drop/o/a b/proteinGroups.txt", 1, '"0123456789abcdef"')
    assert shape(checked_in) == shape(harness)
    record = checked_in["Records"][0]
    assert record["s3"]["object"]["key"].startswith("uploads/drop/"), "a drop-in: uploads/drop/<owner>/<folder>/"
    assert record["eventName"].startswith("ObjectCreated:")
    assert " " not in record["s3"]["object"]["key"]  # S3 URL-encodes keys, spaces as '+'
