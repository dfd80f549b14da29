"""End to end on local AWS (moto + cargo lambda): API → presigned upload → S3 event → ingest → state machine → results.

moto delivers no S3 notifications, so after each upload the test builds the ObjectCreated event S3 would send (the
exact AWS shape, with the object's real ETag) and invokes the ingest function itself through cargo-lambda.
"""

import hashlib
import json
import subprocess
import time
import urllib.parse
import uuid
from datetime import datetime, timezone

import pytest
import requests

from conftest import BUCKET, FUNCTIONS, LAMBDA_PORT, REGION, REPO, TABLE, Stack, cargo_lambda, report

JOB_TIMEOUT_SECONDS = 600  # generous: a function may still compile on its first invoke
POLL_INTERVAL_SECONDS = 0.5
MAX_STATE_BYTES = 1024  # docs/cloud.md: the Step Functions state stays ≤ 1 KB at any data size
MAX_POLL_BYTES = 2048  # docs/cloud.md: GET /jobs/{id} ≤ 2 KB
EVENTS = REPO / "tests/events"


# ---------------------------------------------------------------------------------------------------------- helpers
def s3_put_event(s3, key: str) -> dict:
    """The `s3:ObjectCreated:Put` notification S3 sends for `key`, as AWS shapes it (keys URL-encoded, `+` for space)."""
    head = s3.head_object(Bucket=BUCKET, Key=key)
    now = datetime.now(timezone.utc)
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAE2ETESTPRINCIPAL"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                             "x-amz-id-2": uuid.uuid4().hex + uuid.uuid4().hex},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "proteo-e2e-ingest",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A3E2ETESTOWNER"},
                       "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": head["ContentLength"],
                       "eTag": head["ETag"].strip('"'), "sequencer": f"{time.time_ns():X}"},
        },
    }]}


def deliver(stack: Stack, key: str) -> None:
    """What S3 → Lambda would do after an upload: invoke ingest with the event; it must succeed."""
    resp = stack.invoke("ingest", s3_put_event(stack.s3, key))
    assert resp.status_code == 200, f"ingest failed for {key}: HTTP {resp.status_code} {resp.text}"


def submit(stack: Stack, example: dict, file_name: str = "proteinGroups.txt", params: dict | None = None,
           data: bytes | None = None) -> dict:
    """POST /jobs for an upload of `data` (default: the example's data file); its size is signed into the URL."""
    body = {"fileName": file_name, "fileSize": len(example["data"] if data is None else data),
            "design": example["design"]}
    if params is not None:
        body["params"] = params
    resp = stack.api("POST", "/jobs", json=body)
    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert job["uploadMethod"] == "PUT" and job["statusUrl"] == f"/jobs/{job['jobId']}"
    return job


def upload(stack: Stack, job: dict, data: bytes, file_name: str = "proteinGroups.txt") -> str:
    """PUT to the presigned URL as a browser would; returns the object key."""
    assert "X-Amz-SignedHeaders=content-length%3Bhost" in job["uploadUrl"], "the upload size is not signed"
    resp = requests.put(job["uploadUrl"], data=data, timeout=60)
    assert resp.status_code == 200, f"presigned PUT refused: {resp.status_code} {resp.text[:500]}"
    key = f"jobs/{job['jobId']}/input/{file_name}"
    assert stack.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(data)
    return key


def wait_for_job(stack: Stack, job_id: str, label: str) -> dict:
    """Poll GET /jobs/{id} until the job finishes; progress never decreases and every body stays ≤ 2 KB."""
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    progress, sizes = [], []
    while True:
        resp = stack.api("GET", f"/jobs/{job_id}")
        assert resp.status_code == 200, resp.text
        sizes.append(len(resp.content))
        body = resp.json()
        progress.append(body["progress"])
        assert progress == sorted(progress), f"progress went backwards: {progress}"
        if body["status"] in ("SUCCEEDED", "FAILED"):
            break
        assert time.monotonic() < deadline, f"job {job_id} not finished after {JOB_TIMEOUT_SECONDS} s: {body}"
        time.sleep(POLL_INTERVAL_SECONDS)
    distinct = [p for i, p in enumerate(progress) if i == 0 or p != progress[i - 1]]
    report(f"[{label}] GET /jobs/{{id}}: {len(sizes)} polls, body {min(sizes)}–{max(sizes)} bytes "
           f"(final {sizes[-1]}), progress {distinct}")
    assert max(sizes) <= MAX_POLL_BYTES, f"poll body of {max(sizes)} bytes exceeds {MAX_POLL_BYTES}"
    return body


def execution_of(stack: Stack, job_id: str) -> str:
    names = [e for e in stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
             if e["name"] == job_id]
    assert len(names) == 1, f"expected one execution named {job_id}, found {len(names)}"
    return names[0]["executionArn"]


def history(stack: Stack, execution_arn: str) -> list[dict]:
    events, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = stack.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000, **kw)
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def check_state_sizes(events: list[dict], label: str) -> None:
    """Every state's input and output (the JobSpec, plus `error` on the failure path) stays ≤ 1 KB."""
    sizes = []
    for e in events:
        for details, field in (("stateEnteredEventDetails", "input"), ("stateExitedEventDetails", "output")):
            if details in e:
                sizes.append((e[details]["name"], field, len(e[details][field].encode())))
    lines = ", ".join(f"{name} {field} {n} B" for name, field, n in sizes)
    report(f"[{label}] state payloads: {lines}")
    too_big = [s for s in sizes if s[2] > MAX_STATE_BYTES]
    assert not too_big, f"state payloads over {MAX_STATE_BYTES} bytes: {too_big}"


def entered_states(events: list[dict]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def items_with_input(stack: Stack, key: str) -> list[dict]:
    items, start = [], None
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        page = stack.ddb.scan(TableName=TABLE, FilterExpression="inputKey = :k",
                              ExpressionAttributeValues={":k": {"S": key}}, **kw)
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def download(stack: Stack, job_id: str, rel: str) -> bytes:
    resp = stack.api("GET", f"/jobs/{job_id}/files/{rel}")
    assert resp.status_code == 307, f"GET /jobs/{job_id}/files/{rel}: {resp.status_code} {resp.text}"
    url = resp.headers["location"]
    assert url.startswith(stack.moto_url), f"redirect does not point at the (local) S3 endpoint: {url}"
    got = requests.get(url, timeout=60)
    assert got.status_code == 200, got.text[:500]
    return got.content


def ragged(data: bytes, line_no: int) -> bytes:
    """The table with line `line_no` (1-based, header = 1) missing its last 3 fields."""
    lines = data.split(b"\n")
    lines[line_no - 1] = b"\t".join(lines[line_no - 1].split(b"\t")[:-3])
    return b"\n".join(lines)


# ---------------------------------------------------------------------------------------------------------- scenarios
def test_a_api_job_runs_to_success_and_matches_the_local_run(stack: Stack, example: dict, local_run):
    started = time.monotonic()
    job = submit(stack, example)
    job_id = job["jobId"]
    key = upload(stack, job, example["data"])
    deliver(stack, key)
    body = wait_for_job(stack, job_id, "a")
    assert body["status"] == "SUCCEEDED", body
    assert body["progress"] == 100
    assert "de/results.parquet" in body["results"], body["results"]

    events = history(stack, execution_of(stack, job_id))
    assert entered_states(events) == ["Run QC", "Run DE", "Run Pathway", "Mark Succeeded", "Job Succeeded"]
    check_state_sizes(events, "a")

    cloud = download(stack, job_id, "de/results.parquet")
    local = (local_run / "de/results.parquet").read_bytes()
    assert cloud[:4] == b"PAR1"
    assert hashlib.sha256(cloud).hexdigest() == hashlib.sha256(local).hexdigest(), (
        f"cloud de/results.parquet ({len(cloud)} B) differs from proteo run's ({len(local)} B)")
    report(f"[a] de/results.parquet identical to proteo run ({len(cloud)} bytes); "
           f"scenario {time.monotonic() - started:.1f} s")

    listing = stack.api("GET", "/jobs")
    assert listing.status_code == 200, listing.text
    assert any(j["jobId"] == job_id for j in listing.json()["recent"])


def test_b_drop_in_upload_runs_once_even_when_the_event_repeats(stack: Stack, example: dict):
    started = time.monotonic()
    folder = f"uploads/e2e-{uuid.uuid4().hex[:8]}/"
    design_key, data_key = folder + "design.tsv", folder + "proteinGroups.txt"

    stack.s3.put_object(Bucket=BUCKET, Key=design_key, Body=example["design"].encode())
    deliver(stack, design_key)  # the design arrives first: ingest waits for the data file
    assert items_with_input(stack, data_key) == []

    etag = stack.s3.put_object(Bucket=BUCKET, Key=data_key, Body=example["data"])["ETag"].strip('"')
    deliver(stack, data_key)
    job_id = "u-" + hashlib.sha256(f"{data_key}\n{etag}".encode()).hexdigest()[:32]
    deliver(stack, data_key)  # S3 delivers at least once: the same event again must not start a second job

    body = wait_for_job(stack, job_id, "b")
    assert body["status"] == "SUCCEEDED", body
    deliver(stack, data_key)  # ... nor after the job finished
    deliver(stack, design_key)

    execution_arn = execution_of(stack, job_id)  # exactly one execution named after the job
    items = items_with_input(stack, data_key)
    assert [i["jobId"]["S"] for i in items] == [job_id]
    assert items[0]["status"]["S"] == "SUCCEEDED" and items[0]["source"]["S"] == "upload"
    check_state_sizes(history(stack, execution_arn), "b")
    report(f"[b] drop-in job {job_id}: 1 execution, 1 item after 4 events; scenario {time.monotonic() - started:.1f} s")


def test_c_malformed_input_fails_with_a_message_the_user_can_act_on(stack: Stack, example: dict):
    started = time.monotonic()
    bad = ragged(example["data"], 3)
    job = submit(stack, example, data=bad)
    key = upload(stack, job, bad)
    deliver(stack, key)  # an invalid upload is not an ingest error (no retry can help): the job is FAILED instead
    body = wait_for_job(stack, job["jobId"], "c")
    assert body["status"] == "FAILED", body
    assert body["errorType"] == "InvalidInput", body
    fields = len(example["data"].split(b"\n", 1)[0].split(b"\t"))
    expected = f"proteinGroups.txt, line 3: expected {fields} fields like the header, found {fields - 3}"
    assert expected in body["error"], body["error"]
    report(f"[c] FAILED with: {body['error']!r}; scenario {time.monotonic() - started:.1f} s")


def test_d_transient_failure_of_de_is_retried_and_the_job_succeeds(stack: Stack, example: dict, local_run):
    started = time.monotonic()
    job = submit(stack, example)
    job_id = job["jobId"]
    stack.inject_transient("de", job_id)
    key = upload(stack, job, example["data"])
    deliver(stack, key)
    body = wait_for_job(stack, job_id, "d")
    assert body["status"] == "SUCCEEDED", body
    assert stack.injected_faults().count({"function": "de", "jobId": job_id, "errorType": "Transient"}) == 1

    events = history(stack, execution_of(stack, job_id))
    check_state_sizes(events, "d")
    de_started = next(i for i, e in enumerate(events)
                      if e.get("stateEnteredEventDetails", {}).get("name") == "Run DE")
    de_events = events[de_started:]
    de_end = next(i for i, e in enumerate(de_events) if "stateExitedEventDetails" in e)
    kinds = [e["type"] for e in de_events[:de_end]]
    failed = [e["taskFailedEventDetails"] for e in de_events[:de_end] if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["Transient"], kinds
    assert kinds.count("TaskScheduled") == 2 and kinds[-1] == "TaskSucceeded", kinds
    assert entered_states(events).count("Run DE") == 1  # a retry, not a second pass through the state
    # The retried stage overwrote its outputs with the same bytes: identical to the local run.
    cloud = download(stack, job_id, "de/results.parquet")
    assert cloud == (local_run / "de/results.parquet").read_bytes()
    report(f"[d] Run DE history: {' → '.join(kinds)}; scenario {time.monotonic() - started:.1f} s")


def test_e_a_5000_protein_9_group_job_keeps_every_payload_small(stack: Stack, built):
    """The issue's scale: 5 000 proteins × 9 groups × 4 replicates with Tukey HSD (36 contrasts, 180 000 DE rows).
    Only keys and parameters travel: each state payload stays ≤ 1 KB and the poll body ≤ 2 KB."""
    started = time.monotonic()
    data_dir = stack.workdir / "synthetic"
    proc = subprocess.run([str(built / "proteo"), "synthetic", "--out", str(data_dir)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    synthetic = {"design": (data_dir / "design.tsv").read_text()}
    data = (data_dir / "matrix.tsv").read_bytes()
    job = submit(stack, synthetic, "matrix.tsv", params={"de": {"posthoc": "tukey"}}, data=data)
    key = upload(stack, job, data, "matrix.tsv")
    deliver(stack, key)
    body = wait_for_job(stack, job["jobId"], "e")
    assert body["status"] == "SUCCEEDED", body
    assert body["summary"]["proteins"] == 5000 and body["summary"]["contrastsTotal"] == 36, body["summary"]
    check_state_sizes(history(stack, execution_of(stack, job["jobId"])), "e")
    sizes = {rel: len(download(stack, job["jobId"], rel)) for rel in ("de/results.parquet", "report.html")}
    report(f"[e] 5 000 × (9 × 4) with Tukey: input {len(data)} B, de/results.parquet {sizes['de/results.parquet']} B, "
           f"report.html {sizes['report.html']} B; scenario {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-q"]))


def cargo_lambda_invoke(function: str) -> dict:
    """`cargo lambda invoke <function> --data-file tests/events/<function>.json` as docs/local-invoke.md shows it,
    against the harness's `cargo lambda watch`; returns the function's JSON response (the command fails on an error)."""
    proc = subprocess.run(
        [cargo_lambda(), "lambda", "invoke", function, "--invoke-address", "127.0.0.1", "--invoke-port", str(LAMBDA_PORT),
         "--data-file", str(EVENTS / f"{function}.json"), "--output-format", "json", "--color", "never"],
        cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"cargo lambda invoke {function} failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout)


def test_f_every_function_answers_cargo_lambda_invoke_with_its_checked_in_event(stack: Stack, example: dict,
                                                                               local_run):
    """The checked-in events, sent by `cargo lambda invoke`, do real work once the objects they name exist."""
    started = time.monotonic()
    events = {name: json.loads((EVENTS / f"{name}.json").read_text()) for name in FUNCTIONS}
    record = events["ingest"]["Records"][0]["s3"]
    assert record["bucket"]["name"] == BUCKET, "the events name the bucket of the stack `proteo` (samconfig.toml)"

    # ingest: the drop-in upload its event announces (`+` is S3's encoding of a space), then the job runs to the end.
    data_key = urllib.parse.unquote_plus(record["object"]["key"])
    folder = data_key.rsplit("/", 1)[0] + "/"
    stack.s3.put_object(Bucket=BUCKET, Key=folder + "design.tsv", Body=example["design"].encode())
    stack.s3.put_object(Bucket=BUCKET, Key=data_key, Body=example["data"])
    assert cargo_lambda_invoke("ingest") is None  # an S3-triggered function returns nothing
    job_id = "u-" + hashlib.sha256(f"{data_key}\n{record['object']['eTag']}".encode()).hexdigest()[:32]
    assert wait_for_job(stack, job_id, "f")["status"] == "SUCCEEDED"

    # qc → de → pathway for the job their events name, from that job's ingest output (the default parameters the
    # events carry are those of `proteo run`, so the local run's ingest tables are that job's).
    spec = events["qc"]
    assert events["de"] == spec and events["pathway"] == spec and spec["params"] == {}
    for path in sorted((local_run / "ingest").iterdir()):
        stack.s3.put_object(Bucket=BUCKET, Key=f"{spec['prefix']}ingest/{path.name}", Body=path.read_bytes())
    written = {}
    for stage in ("qc", "de", "pathway"):
        answer = cargo_lambda_invoke(stage)
        assert answer["stage"] == stage and answer["keys"], answer
        assert all(k.startswith(spec["prefix"]) for k in answer["keys"]), answer
        written[stage] = answer["keys"]
    for rel in ("qc/matrix.parquet", "de/results.parquet", "pathway/enrichment.parquet"):
        got = stack.s3.get_object(Bucket=BUCKET, Key=spec["prefix"] + rel)["Body"].read()
        assert got == (local_run / rel).read_bytes(), f"{rel} differs from proteo run's"
    assert spec["prefix"] + "report.html" in written["pathway"], written["pathway"]

    # api: GET /jobs counts the jobs and lists the latest, the drop-in job first (the stages invoked by hand ran
    # without a job item, so they add none).
    answer = cargo_lambda_invoke("api")
    assert answer["statusCode"] == 200, answer
    listing = json.loads(answer["body"])
    assert listing["recent"][0]["jobId"] == job_id and listing["recent"][0]["status"] == "SUCCEEDED", listing
    assert listing["counts"]["SUCCEEDED"] >= 1, listing
    report(f"[f] cargo lambda invoke with tests/events/*.json: ingest → job {job_id} SUCCEEDED; qc, de, pathway wrote "
           f"{sum(len(k) for k in written.values())} objects (matrix, DE results, enrichment equal to proteo run's); "
           f"api GET /jobs 200; "
           f"scenario {time.monotonic() - started:.1f} s")


def test_g_a_job_reads_only_its_own_keys(stack: Stack, example: dict):
    """`params.pathway.gene_sets` naming another job's upload, the bucket root, a path or a traversal form: refused
    by POST /jobs (400) and, for a spec handed straight to the pathway Lambda (which may read jobs/*), by the stage
    with InvalidInput — the other file is never read, so its header never appears in the answer."""
    started = time.monotonic()
    victim = submit(stack, example)
    victim_key = upload(stack, victim, example["data"])
    header = example["data"].split(b"\n", 1)[0].split(b"\t")[0].decode()
    probes = [victim_key, f"jobs/{victim['jobId']}/", "jobs/", "/etc/passwd", "../" + victim_key,
              f"upload:../../{victim['jobId']}/input/proteinGroups.txt", "upload:%2e%2e%2fx", "upload:a\\b.gmt",
              "upload:x\u0000y", "builtin:../../" + victim_key]
    for probe in probes:
        resp = stack.api("POST", "/jobs", json={"fileName": "x.txt", "fileSize": 10, "design": example["design"],
                                                "params": {"pathway": {"gene_sets": probe}}})
        assert resp.status_code == 400 and "params.pathway.gene_sets" in resp.json()["error"], (probe, resp.text)
        job_id = str(uuid.uuid4())
        spec = {"jobId": job_id, "prefix": f"jobs/{job_id}/", "inputKey": f"jobs/{job_id}/input/x.txt",
                "designKey": f"jobs/{job_id}/input/design.tsv", "params": {"pathway": {"gene_sets": probe}}}
        resp = stack.invoke("pathway", spec)
        body = resp.json()
        assert body.get("errorType") == "InvalidInput", (probe, resp.status_code, resp.text)
        assert "params.pathway.gene_sets" in body["errorMessage"], (probe, body)
        assert header not in resp.text, (probe, resp.text)
    # A stage event naming another job's input is refused the same way.
    job_id = str(uuid.uuid4())
    spec = {"jobId": job_id, "prefix": f"jobs/{job_id}/", "inputKey": victim_key,
            "designKey": f"jobs/{job_id}/input/design.tsv", "params": {}}
    body = stack.invoke("qc", spec).json()
    assert body.get("errorType") == "InvalidInput" and "not one of its own keys" in body["errorMessage"], body
    report(f"[g] {len(probes)} gene-set probes refused by POST /jobs and by the pathway Lambda, another job's input "
           f"refused by the qc Lambda; scenario {time.monotonic() - started:.1f} s")
