"""End to end on local AWS (moto + cargo lambda), every call under the template's IAM: API (through API Gateway's
JWT authorizer) → presigned upload → S3 notification → ingest → state machine → results.

The harness delivers S3's upload notifications itself (moto sends none), from the bucket's notification
configuration in the template; tests that check duplicate deliveries redeliver the same event by hand.
"""

import hashlib
import json
import subprocess
import threading
import time
import urllib.parse
import uuid

import pytest
import requests

from conftest import BUCKET, FUNCTIONS, REGION, REPO, TABLE, Stack, cargo_lambda, report
from s3events import s3_put_event

JOB_TIMEOUT_SECONDS = 600  # generous: a function may still compile on its first invoke
POLL_INTERVAL_SECONDS = 0.5
MAX_STATE_BYTES = 2048  # docs/cloud.md: the Step Functions state stays ≤ 2 KB at any data size (keys and params only)
MAX_POLL_BYTES = 2048  # docs/cloud.md: GET /jobs/{id} ≤ 2 KB
EVENTS = REPO / "tests/events"
BURST_JOBS = 10
BURST_TIMEOUT_SECONDS = 900


# ---------------------------------------------------------------------------------------------------------- helpers
def redeliver(stack: Stack, key: str) -> None:
    """The S3 notification of `key` once more (S3 delivers at least once): ingest must succeed and change nothing."""
    head = stack.s3.head_object(Bucket=BUCKET, Key=key)
    event = s3_put_event(BUCKET, REGION, key, head["ContentLength"], head["ETag"])
    resp = stack.invoke("ingest", event)
    assert resp.status_code == 200, f"ingest failed for {key}: HTTP {resp.status_code} {resp.text}"


def submit(stack: Stack, example: dict, file_name: str = "proteinGroups.txt", params: dict | None = None,
           data: bytes | None = None, user: str = "alice") -> dict:
    """POST /jobs for an upload of `data` (default: the example's data file); its size is signed into the URL."""
    body = {"fileName": file_name, "fileSize": len(example["data"] if data is None else data),
            "design": example["design"]}
    if params is not None:
        body["params"] = params
    resp = stack.api("POST", "/jobs", user=user, json=body)
    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert job["uploadMethod"] == "PUT" and job["statusUrl"] == f"/jobs/{job['jobId']}"
    return job


def upload(stack: Stack, job: dict, data: bytes, file_name: str = "proteinGroups.txt") -> str:
    """PUT to the presigned URL as a browser would; returns the object key."""
    assert "X-Amz-SignedHeaders=content-length%3Bhost" in job["uploadUrl"], "the upload size is not signed"
    resp = requests.put(job["uploadUrl"], data=data, timeout=60)
    assert resp.status_code == 200, f"presigned PUT refused: {resp.status_code} {resp.text[:500]}"
    key = f"uploads/api/{job['jobId']}/{file_name}"
    assert stack.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(data)
    return key


def ingest_deliveries(stack: Stack, prefix: str) -> list[dict]:
    """S3 → ingest notifications for keys under `prefix` (each delivery, retries counted apart)."""
    return [i for i in stack.invokes() if i["kind"] == "s3-notification" and i["key"].startswith(prefix)
            and i["attempt"] == 1]


def wait_for_job(stack: Stack, job_id: str, label: str, user: str = "alice", quiet: bool = False,
                 timeout: float = JOB_TIMEOUT_SECONDS) -> dict:
    """Poll GET /jobs/{id} until the job finishes; progress never decreases and every body stays ≤ 2 KB."""
    deadline = time.monotonic() + timeout
    progress, sizes = [], []
    while True:
        resp = stack.api("GET", f"/jobs/{job_id}", user=user)
        if resp.status_code == 404 and not progress and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL_SECONDS)  # a drop-in job appears once ingest has created its item
            continue
        assert resp.status_code == 200, resp.text
        sizes.append(len(resp.content))
        body = resp.json()
        progress.append(body["progress"])
        assert progress == sorted(progress), f"progress went backwards: {progress}"
        if body["status"] in ("SUCCEEDED", "FAILED"):
            break
        assert time.monotonic() < deadline, f"job {job_id} not finished after {timeout} s: {body}"
        time.sleep(POLL_INTERVAL_SECONDS)
    distinct = [p for i, p in enumerate(progress) if i == 0 or p != progress[i - 1]]
    if not quiet:
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
    """Every state's input and output (the JobSpec, plus `error` on the failure path) stays ≤ 2 KB."""
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


def download(stack: Stack, job_id: str, rel: str, user: str = "alice") -> bytes:
    resp = stack.api("GET", f"/jobs/{job_id}/files/{rel}", user=user)
    assert resp.status_code == 307, f"GET /jobs/{job_id}/files/{rel}: {resp.status_code} {resp.text}"
    url = resp.headers["location"]
    assert url.startswith(stack.moto_url), f"redirect does not point at the (local) S3 endpoint: {url}"
    got = requests.get(url, timeout=60)
    assert got.status_code == 200, got.text[:500]
    return got.content


def ragged(data: bytes, line_no: int) -> bytes:
    """The table with line `line_no` (1-based, header = 1) carrying 3 filled fields more than the header (a short
    MaxQuant row is filled, as R reads it; an overlong one is refused)."""
    lines = data.split(b"\n")
    line = lines[line_no - 1]
    end = b"\r" if line.endswith(b"\r") else b""
    lines[line_no - 1] = line.rstrip(b"\r") + b"\tx\ty\tz" + end
    return b"\n".join(lines)


# ---------------------------------------------------------------------------------------------------------- scenarios
def test_a_api_job_runs_to_success_and_matches_the_local_run(stack: Stack, example: dict, local_run):
    started = time.monotonic()
    job = submit(stack, example)
    job_id = job["jobId"]
    upload(stack, job, example["data"])
    body = wait_for_job(stack, job_id, "a")
    assert body["status"] == "SUCCEEDED", body
    assert body["progress"] == 100
    assert "de/results.parquet" in body["results"] and "report.html" in body["results"], body["results"]

    events = history(stack, execution_of(stack, job_id))
    assert entered_states(events) == ["Quantify in Shards?", "Run QC", "Run DE", "Run Pathway", "Render Report",
                                      "Mark Succeeded", "Job Succeeded"]
    assert "warning" not in body, body
    check_state_sizes(events, "a")

    cloud = download(stack, job_id, "de/results.parquet")
    local = (local_run / "de/results.parquet").read_bytes()
    assert cloud[:4] == b"PAR1"
    assert hashlib.sha256(cloud).hexdigest() == hashlib.sha256(local).hexdigest(), (
        f"cloud de/results.parquet ({len(cloud)} B) differs from proteo run's ({len(local)} B)")
    assert download(stack, job_id, "report.html").startswith(b"<!DOCTYPE html>")

    # One upload door: the S3 trigger fired once for this job (its upload), never for the ~20 objects it wrote.
    written = [k["Key"] for k in stack.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"jobs/{job_id}/")["Contents"]]
    deliveries = [i for i in stack.invokes() if i["kind"] == "s3-notification" and job_id in i["key"]]
    assert [d["key"] for d in deliveries] == [f"uploads/api/{job_id}/proteinGroups.txt"], deliveries
    report(f"[a] ingest invocations for the job: {len(deliveries)} (its upload); objects it wrote under "
           f"jobs/{job_id[:8]}…/: {len(written)}, none of which fired the trigger")

    listing = stack.api("GET", "/jobs")
    assert listing.status_code == 200, listing.text
    assert any(j["jobId"] == job_id for j in listing.json()["recent"])
    report(f"[a] de/results.parquet identical to proteo run ({len(cloud)} bytes); "
           f"scenario {time.monotonic() - started:.1f} s")


def test_b_drop_in_upload_belongs_to_its_folder_owner_and_runs_once(stack: Stack, example: dict):
    """A lab drops files with the template's DropInUploadPolicy (tagged with its owner id): its own folder only.
    The job belongs to that owner; S3 redelivering the events starts nothing more."""
    started = time.monotonic()
    owner = stack.sub("alice")
    folder = f"uploads/drop/{owner}/e2e-{int(time.time())}/"
    design_key, data_key = folder + "design.tsv", folder + "proteinGroups.txt"
    lab = stack.client_as("lab", "s3")

    lab.put_object(Bucket=BUCKET, Key=design_key, Body=example["design"].encode())
    etag = lab.put_object(Bucket=BUCKET, Key=data_key, Body=example["data"])["ETag"].strip('"')
    job_id = "u-" + hashlib.sha256(f"{data_key}\n{etag}".encode()).hexdigest()[:32]
    body = wait_for_job(stack, job_id, "b")
    assert body["status"] == "SUCCEEDED", body
    redeliver(stack, data_key)  # S3 delivers at least once: the same event again must not start a second job
    redeliver(stack, design_key)

    execution_arn = execution_of(stack, job_id)  # exactly one execution named after the job
    items = items_with_input(stack, data_key)
    assert [i["jobId"]["S"] for i in items] == [job_id]
    assert items[0]["status"]["S"] == "SUCCEEDED" and items[0]["source"]["S"] == "upload"
    assert items[0]["owner"]["S"] == owner
    assert any(j["jobId"] == job_id for j in stack.api("GET", "/jobs").json()["recent"])
    assert stack.api("GET", f"/jobs/{job_id}", user="bob").status_code == 404
    deliveries = ingest_deliveries(stack, folder)
    assert sorted(d["key"] for d in deliveries) == sorted([design_key, data_key]), deliveries
    check_state_sizes(history(stack, execution_arn), "b")
    report(f"[b] drop-in job {job_id}: 1 execution, 1 item after 2 uploads + 2 redeliveries; ingest invocations "
           f"from S3: {len(deliveries)} (one per uploaded file); scenario {time.monotonic() - started:.1f} s")


def test_c_malformed_input_fails_with_a_message_the_user_can_act_on(stack: Stack, example: dict):
    started = time.monotonic()
    bad = ragged(example["data"], 3)
    job = submit(stack, example, data=bad)
    upload(stack, job, bad)
    body = wait_for_job(stack, job["jobId"], "c")  # no retry can help an invalid upload: the job is FAILED
    assert body["status"] == "FAILED", body
    assert body["errorType"] == "InvalidInput", body
    fields = len(example["data"].split(b"\n", 1)[0].split(b"\t"))
    expected = f"proteinGroups.txt, line 3: expected {fields} fields like the header, found {fields + 3}"
    assert expected in body["error"], body["error"]
    report(f"[c] FAILED with: {body['error']!r}; scenario {time.monotonic() - started:.1f} s")


def test_d_transient_failure_of_de_is_retried_and_the_job_succeeds(stack: Stack, example: dict, local_run):
    started = time.monotonic()
    job = submit(stack, example)
    job_id = job["jobId"]
    stack.inject_transient("de", job_id)
    upload(stack, job, example["data"])
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
    Only keys and parameters travel: each state payload stays ≤ 2 KB and the poll body ≤ 2 KB."""
    started = time.monotonic()
    data_dir = stack.workdir / "synthetic"
    proc = subprocess.run([str(built / "proteo"), "synthetic", "--out", str(data_dir)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    synthetic = {"design": (data_dir / "design.tsv").read_text()}
    data = (data_dir / "matrix.tsv").read_bytes()
    job = submit(stack, synthetic, "matrix.tsv", params={"de": {"posthoc": "tukey"}}, data=data)
    upload(stack, job, data, "matrix.tsv")
    body = wait_for_job(stack, job["jobId"], "e")
    assert body["status"] == "SUCCEEDED", body
    assert body["summary"]["proteins"] == 5000 and body["summary"]["contrastsTotal"] == 36, body["summary"]
    check_state_sizes(history(stack, execution_of(stack, job["jobId"])), "e")
    sizes = {rel: len(download(stack, job["jobId"], rel)) for rel in ("de/results.parquet", "report.html")}
    deliveries = [i for i in stack.invokes() if i["kind"] == "s3-notification" and job["jobId"] in i["key"]]
    assert len(deliveries) == 1, deliveries
    report(f"[e] 5 000 × (9 × 4) with Tukey: input {len(data)} B, de/results.parquet {sizes['de/results.parquet']} B, "
           f"report.html {sizes['report.html']} B; ingest invocations 1; scenario {time.monotonic() - started:.1f} s")


def cargo_lambda_invoke(stack: Stack, function: str) -> dict:
    """`cargo lambda invoke <function> --data-file tests/events/<function>.json` as docs/local-invoke.md shows it,
    against that function's watcher; returns the function's JSON response (the command fails on an error)."""
    port = stack.function_urls[function].rsplit(":", 1)[1]
    proc = subprocess.run(
        [cargo_lambda(), "lambda", "invoke", function, "--invoke-address", "127.0.0.1", "--invoke-port", port,
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
    # Put quietly (no S3 notification from the harness): the job must be started by `cargo lambda invoke` alone.
    data_key = urllib.parse.unquote_plus(record["object"]["key"])
    folder = data_key.rsplit("/", 1)[0] + "/"
    owner = folder.split("/")[2]
    quiet = stack.quiet_s3()
    quiet.put_object(Bucket=BUCKET, Key=folder + "design.tsv", Body=example["design"].encode())
    quiet.put_object(Bucket=BUCKET, Key=data_key, Body=example["data"])
    job_id = "u-" + hashlib.sha256(f"{data_key}\n{record['object']['eTag']}".encode()).hexdigest()[:32]
    assert cargo_lambda_invoke(stack, "ingest") is None  # an S3-triggered function returns nothing
    token = stack.idp.token(owner, sub=owner)
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while True:
        body = stack.api("GET", f"/jobs/{job_id}", user=None, token=token).json()
        if body.get("status") in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            break
        time.sleep(POLL_INTERVAL_SECONDS)
    assert body.get("status") == "SUCCEEDED", body

    # qc → de → pathway → report for the job their events name, from that job's ingest output (the default
    # parameters the events carry are those of `proteo run`, so the local run's ingest tables are that job's).
    spec = events["qc"]
    assert events["de"] == spec and events["pathway"] == spec and events["report"] == spec and spec["params"] == {}
    for path in sorted((local_run / "ingest").iterdir()):
        stack.s3.put_object(Bucket=BUCKET, Key=f"{spec['prefix']}ingest/{path.name}", Body=path.read_bytes())
    written = {}
    for stage in ("qc", "de", "pathway", "report"):
        answer = cargo_lambda_invoke(stack, stage)
        assert answer["stage"] == stage and answer["keys"], answer
        assert all(k.startswith(spec["prefix"]) for k in answer["keys"]), answer
        written[stage] = answer["keys"]
    for rel in ("qc/matrix.parquet", "de/results.parquet", "pathway/enrichment.parquet"):
        got = stack.s3.get_object(Bucket=BUCKET, Key=spec["prefix"] + rel)["Body"].read()
        assert got == (local_run / rel).read_bytes(), f"{rel} differs from proteo run's"
    assert spec["prefix"] + "report.html" in written["report"], written["report"]

    # api: GET /jobs as the owner the event's authorizer claims name lists that owner's drop-in job first.
    answer = cargo_lambda_invoke(stack, "api")
    assert answer["statusCode"] == 200, answer
    listing = json.loads(answer["body"])
    assert listing["recent"][0]["jobId"] == job_id and listing["recent"][0]["status"] == "SUCCEEDED", listing
    assert listing["counts"]["SUCCEEDED"] >= 1, listing
    report(f"[f] cargo lambda invoke with tests/events/*.json: ingest → job {job_id} SUCCEEDED; qc, de, pathway, "
           f"report wrote "
           f"{sum(len(k) for k in written.values())} objects (matrix, DE results, enrichment equal to proteo run's); "
           f"api GET /jobs 200; scenario {time.monotonic() - started:.1f} s")


def test_g_only_a_signed_in_owner_sees_a_job(stack: Stack, example: dict):
    """API Gateway's JWT authorizer (the template's) answers 401 itself; behind it a job is its owner's alone."""
    job = submit(stack, example, user="carol")
    job_id = job["jobId"]
    upload(stack, job, example["data"])
    assert wait_for_job(stack, job_id, "g", user="carol", quiet=True)["status"] == "SUCCEEDED"
    routes = [("POST", "/jobs"), ("GET", "/jobs"), ("GET", f"/jobs/{job_id}"), ("GET", f"/jobs/{job_id}/results"),
              ("GET", f"/jobs/{job_id}/files/summary.json")]
    assert {f"{m} {r.template}" for r in stack.gateway.routes for m in [r.method]} == {
        "POST /jobs", "GET /jobs", "GET /jobs/{id}", "GET /jobs/{id}/results", "GET /jobs/{id}/files/{proxy+}",
        "POST /inspect"}
    assert all(r.authorizer is not None for r in stack.gateway.routes), "every route of the template is authorized"
    idp = stack.idp
    bad_tokens = {
        "none": None,
        "expired": idp.token("carol", lifetime=-60),
        "forged": idp.forged_token("carol"),
        "wrong audience": idp.token("carol", aud="someone-else"),
        "wrong issuer": idp.token("carol", iss="https://evil.example"),
        "garbage": "not-a-jwt",
    }
    for name, token in bad_tokens.items():
        for method, path in routes + [("POST", "/inspect")]:
            r = stack.api(method, path, user=None, token=token or "", json={"fileName": "x.txt", "design": "d"})
            assert r.status_code == 401, f"{name} token, {method} {path}: {r.status_code} {r.text}"
    # Past API Gateway, a request without claims (a route left without the authorizer) is refused by the function.
    direct = stack.invoke("api", {"version": "2.0", "routeKey": "GET /jobs", "rawPath": "/jobs", "rawQueryString": "",
                                  "headers": {}, "requestContext": {"http": {"method": "GET", "path": "/jobs"},
                                                                    "timeEpoch": 0}, "isBase64Encoded": False})
    assert direct.json()["statusCode"] == 401, direct.text

    # Another signed-in user: nothing of carol's job, the same 404 as for an id that does not exist.
    for method, path in routes[2:]:
        r = stack.api(method, path, user="dave")
        assert r.status_code == 404, f"dave {method} {path}: {r.status_code} {r.text}"
    assert all(j["jobId"] != job_id for j in stack.api("GET", "/jobs", user="dave").json()["recent"])
    assert stack.api("GET", "/jobs", user="carol").json()["recent"][0]["jobId"] == job_id

    # Presigned URLs: 15 minutes, as documented; S3 (the harness enforces it) refuses an expired one.
    url = stack.api("GET", f"/jobs/{job_id}/files/summary.json", user="carol").headers["location"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["X-Amz-Expires"] == "900" and query["X-Amz-Credential"].startswith(stack.keys["api"]), query
    assert job["expiresInSeconds"] == 900 and "X-Amz-Expires=900" in job["uploadUrl"]
    short = stack.client_as("api", "s3").generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": f"jobs/{job_id}/summary.json"}, ExpiresIn=1)
    assert requests.get(short, timeout=30).status_code == 200
    time.sleep(2.5)
    expired = requests.get(short, timeout=30)
    assert expired.status_code == 403 and b"expired" in expired.content, expired.text
    report(f"[g] {len(bad_tokens)} kinds of bad token × {len(routes)} routes: 401 from the gateway "
           f"({stack.gateway.denied} refusals so far); another user: 404 on poll/results/files, an empty listing; "
           f"presigned URLs {query['X-Amz-Expires']} s, an expired one 403")


def test_h_a_burst_queues_behind_reserved_concurrency_and_every_job_succeeds(stack: Stack, example: dict):
    """10 jobs at once against stage functions with reserved concurrency 1 (StageConcurrency=1): invokes beyond it
    are throttled (429 TooManyRequestsException) and the state machine's throttling retrier queues them."""
    reserved = {n: stack.deployment.properties(lg).get("ReservedConcurrentExecutions")
                for n, lg in stack.deployment.functions.items()}
    assert all(str(reserved[n]) == "1" for n in ("ingest", "qc", "de", "pathway")), reserved
    before = len(stack.invokes())
    started = time.monotonic()
    jobs = [submit(stack, example, user="erin") for _ in range(BURST_JOBS)]
    threads = [threading.Thread(target=upload, args=(stack, job, example["data"])) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bodies = [wait_for_job(stack, job["jobId"], "h", user="erin", quiet=True, timeout=BURST_TIMEOUT_SECONDS)
              for job in jobs]
    seconds = time.monotonic() - started
    statuses = [b["status"] for b in bodies]
    assert statuses == ["SUCCEEDED"] * BURST_JOBS, [(b["jobId"], b["status"], b.get("error")) for b in bodies]

    ids = {job["jobId"] for job in jobs}
    mine = [i for i in stack.invokes()[before:] if i.get("jobId") in ids]
    throttled = {f: sum(1 for i in mine if i["kind"] == "throttled" and i["function"] == f) for f in ("qc", "de",
                                                                                                     "pathway")}
    retries = 0
    for job in jobs:
        events = history(stack, execution_of(stack, job["jobId"]))
        errors = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
        assert set(errors) <= {"Lambda.TooManyRequestsException"}, errors
        retries += len(errors)
    assert sum(throttled.values()) > 0, "with 10 jobs and concurrency 1, some invokes must have been throttled"
    assert retries == sum(throttled.values()), (retries, throttled)
    report(f"[h] burst: {BURST_JOBS} jobs, reserved concurrency 1 per stage, all SUCCEEDED in {seconds:.1f} s; "
           f"throttled invokes (429) qc {throttled['qc']}, de {throttled['de']}, pathway {throttled['pathway']}; "
           f"Lambda.TooManyRequestsException retries in the histories {retries} (cap {2} s, full jitter)")


def test_i_a_job_reads_only_its_own_keys(stack: Stack, example: dict):
    """`params.pathway.gene_sets` naming another job's upload, the bucket root, a path or a traversal form: refused
    by POST /jobs (400) and, for a spec handed straight to the pathway Lambda (which may read jobs/*/…), by the stage
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
        spec = {"jobId": job_id, "prefix": f"jobs/{job_id}/", "inputKey": f"uploads/api/{job_id}/x.txt",
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
    report(f"[i] {len(probes)} gene-set probes refused by POST /jobs and by the pathway Lambda, another job's input "
           f"refused by the qc Lambda; scenario {time.monotonic() - started:.1f} s")


SHARED_FORMATS = REPO.parent / "shared/data/formats"
PRECURSOR_REPORTS = [
    # (report under ../shared/data/formats, its design)
    ("diann_report-tsv_1.8.2b8-einprot/PXD028735.report.tsv",
     SHARED_FORMATS / "diann_report-tsv_1.8.2b8-einprot/PXD028735_sampleAnnot.txt"),
    ("diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet",
     REPO / "tests/fixtures/formats/diann_bader2020_csf_design.tsv"),
]


@pytest.mark.parametrize("report_path,design", PRECURSOR_REPORTS, ids=["report.tsv", "report.parquet"])
def test_j_a_real_dia_nn_precursor_report_is_quantified_in_the_cloud(stack: Stack, report_path: str, design):
    """Needs ../shared/data/formats beside the clone (real DIA-NN exports, not copied into the repo): the ingest
    Lambda detects the precursor report, filters and quantifies it by MaxLFQ, and the job runs to SUCCEEDED."""
    data_path = SHARED_FORMATS / report_path
    if not data_path.exists():
        pytest.skip(f"{data_path} is absent: this scenario needs ../shared/data/formats beside the clone")
    started = time.monotonic()
    data = data_path.read_bytes()
    job = submit(stack, {"design": design.read_text(), "data": data}, data_path.name, data=data)
    upload(stack, job, data, data_path.name)
    body = wait_for_job(stack, job["jobId"], "j")
    assert body["status"] == "SUCCEEDED", body
    assert body["summary"]["proteins"] > 0, body["summary"]
    summary = json.loads(stack.s3.get_object(Bucket=BUCKET, Key=f"jobs/{job['jobId']}/summary.json")["Body"].read())
    ingest = summary["stages"]["ingest"]["input"]
    assert ingest["format"] == "precursor-report", ingest
    filters = ingest["precursor"]["filters"]
    assert any(f["applied"] for f in filters), filters
    report(f"[j] {data_path.name}: {body['summary']['proteins']} proteins quantified by MaxLFQ from the precursor "
           f"report, {len(filters)} filters stated; scenario {time.monotonic() - started:.1f} s")


def test_k_a_report_that_cannot_be_rendered_leaves_the_job_succeeded_with_a_warning(stack: Stack, example: dict,
                                                                                     local_run):
    """The report's own input is damaged just before the report function runs: that function fails (Internal, not
    retried), the state machine's Catch marks the job SUCCEEDED with a warning, and every statistics output is there
    and equal to the local run's."""
    started = time.monotonic()
    job = submit(stack, example)
    job_id = job["jobId"]
    stack.inject_corruption("report", job_id, ["qc/distributions.parquet"])
    upload(stack, job, example["data"])
    body = wait_for_job(stack, job_id, "k")
    assert body["status"] == "SUCCEEDED" and body["progress"] == 100, body
    assert body["warning"].startswith("report could not be rendered: report.html: "), body
    assert "qc/distributions.parquet" in body["warning"], body["warning"]
    assert {"function": "report", "jobId": job_id, "corrupted": ["qc/distributions.parquet"]} in stack.injected_faults()

    events = history(stack, execution_of(stack, job_id))
    check_state_sizes(events, "k")
    assert entered_states(events) == ["Quantify in Shards?", "Run QC", "Run DE", "Run Pathway", "Render Report",
                                      "Mark Succeeded With Warning", "Job Succeeded"]
    failed = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    assert failed == ["Internal"], failed  # not retried: a damaged table stays damaged
    item = stack.ddb.get_item(TableName=TABLE, Key={"jobId": {"S": job_id}})["Item"]
    assert item["status"]["S"] == "SUCCEEDED"
    assert item["warning"]["S"].startswith("report could not be rendered: {"), item["warning"]

    # The statistics are complete: attached to the job, downloadable, equal to proteo run's; only the report is not.
    assert "report.html" not in body["results"], body["results"]
    for rel in ("qc/matrix.parquet", "qc/samples.parquet", "de/results.parquet", "pathway/enrichment.parquet"):
        assert rel in body["results"], (rel, body["results"])
        assert download(stack, job_id, rel) == (local_run / rel).read_bytes(), f"{rel} differs from proteo run's"
    summary = json.loads(download(stack, job_id, "summary.json"))
    assert summary["stages"]["de"]["contrasts"], summary["stages"]["de"]
    report(f"[k] Render Report failed (Internal) → Mark Succeeded With Warning: {body['warning'][:120]!r}; "
           f"scenario {time.monotonic() - started:.1f} s")


COHORT_RUNS = 1000
COHORT_PRECURSORS = 200  # MaxLFQ compares every pair of runs per protein: kept small so the dev build runs it in CI


def test_l_a_1000_run_report_is_quantified_by_the_distributed_map(stack: Stack, built, tmp_path):
    """A synthetic DIA-NN 2.x report.parquet of 1 000 runs (the real schema): ingest splits it into protein shards
    (QuantShardCells of the harness's stack), the Distributed Map runs the quant Lambda per shard under its IAM, the
    assembly writes the protein table, and QC → DE → pathway follow. The table equals `proteo run`'s (quantified in
    place, on a thread pool) byte for byte; the checked-in quant event re-quantifies a shard to the same bytes."""
    started = time.monotonic()
    data_dir = tmp_path / "cohort"
    proc = subprocess.run([str(built / "proteo"), "synthetic", "--out", str(data_dir), "--report-runs",
                           str(COHORT_RUNS), "--report-precursors", str(COHORT_PRECURSORS)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = (data_dir / "report.parquet").read_bytes()
    design = (data_dir / "design.tsv").read_text()
    local = tmp_path / "local"
    proc = subprocess.run([str(built / "proteo"), "run", str(data_dir / "report.parquet"), "--design",
                           str(data_dir / "design.tsv"), "--out", str(local), "--quiet"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, f"proteo run failed:\n{proc.stderr}"
    local_s = time.monotonic() - started

    job = submit(stack, {"design": design, "data": data}, "report.parquet", data=data)
    job_id = job["jobId"]
    upload(stack, job, data, "report.parquet")
    body = wait_for_job(stack, job_id, "l")
    assert body["status"] == "SUCCEEDED", body
    events = history(stack, execution_of(stack, job_id))
    states = entered_states(events)
    assert states[:3] == ["Quantify in Shards?", "Quantify Protein Shards", "Assemble Protein Matrix"], states
    assert states[3:] == ["Run QC", "Run DE", "Run Pathway", "Render Report", "Mark Succeeded", "Job Succeeded"], states
    check_state_sizes(events, "l")

    def get(key: str) -> bytes:
        return stack.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    items = json.loads(get(f"jobs/{job_id}/ingest/quant/manifest.json"))
    assert len(items) >= 4, f"{len(items)} shards"
    cloud = get(f"jobs/{job_id}/ingest/table.parquet")
    assert cloud == (local / "ingest/table.parquet").read_bytes(), (
        f"the Map's protein table ({len(cloud)} B, {len(items)} shards) differs from proteo run's")
    summary = json.loads(get(f"jobs/{job_id}/summary.json"))
    assert summary["stages"]["ingest"]["input"]["precursor"]["runs"] == COHORT_RUNS, summary["stages"]["ingest"]

    # The checked-in event of the quant function names shard 0 of the events' job: that shard re-quantified there
    # gives this job's result 0 byte for byte (a child is a pure function of its shard).
    event_item = json.loads((EVENTS / "quant.json").read_text())["Items"][0]
    stack.s3.put_object(Bucket=BUCKET, Key=event_item["shard"], Body=get(items[0]["shard"]))
    answer = cargo_lambda_invoke(stack, "quant")
    assert answer == {"shards": 1}, answer
    assert get(event_item["result"]) == get(items[0]["result"])
    report(f"[l] {COHORT_RUNS}-run report ({len(data) / 1e6:.1f} MB, {COHORT_PRECURSORS} precursors) through the "
           f"Distributed Map in {len(items)} shards: protein table identical to proteo run's ({len(cloud)} B; local "
           f"run {local_s:.1f} s); scenario {time.monotonic() - started:.1f} s")
