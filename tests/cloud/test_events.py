"""The checked-in example events (tests/events/*.json) keep the shapes the functions receive on AWS."""

import json
from pathlib import Path

import pytest

from conftest import REPO
from test_e2e import s3_put_event

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
    assert spec["inputKey"].startswith(spec["prefix"] + "input/")
    assert spec["designKey"] == spec["prefix"] + "input/design.tsv"
    assert len(json.dumps(spec).encode()) <= 1024


def test_api_event_is_an_http_api_v2_get_jobs():
    event = json.loads((EVENTS / "api.json").read_text())
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /jobs" and event["rawPath"] == "/jobs"
    assert event["requestContext"]["http"]["method"] == "GET"


class _FakeS3:
    def head_object(self, Bucket, Key):
        return {"ContentLength": 1, "ETag": '"0123456789abcdef0123456789abcdef"'}


def test_ingest_event_has_the_same_shape_as_the_harness_s3_events():
    checked_in = json.loads((EVENTS / "ingest.json").read_text())
    assert shape(checked_in) == shape(s3_put_event(_FakeS3(), "uploads/a b/proteinGroups.txt"))
    record = checked_in["Records"][0]
    assert record["eventName"].startswith("ObjectCreated:")
    assert " " not in record["s3"]["object"]["key"]  # S3 URL-encodes keys, spaces as '+'
