"""The smoke test of a proteo stack: sign in, submit the bundled example, upload it, poll, page, download, and check
that a second user sees nothing of the job. One set of steps, two places to run them:

- against a deployed stack: `scripts/smoke-aws --stack proteo [--region eu-west-1]` (this file as a script): the API
  URL and the Cognito pool come from the stack's outputs; two throwaway users are created in the pool, signed in
  with USER_PASSWORD_AUTH and deleted afterwards (or give two ID tokens: PROTEO_SMOKE_TOKEN_A / _B);
- against the local moto stack in CI: `tests/cloud/test_smoke.py`, with the harness's API Gateway and tokens.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import requests

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "data/example/proteinGroups.txt"
DESIGN = REPO / "data/example/experimental_design.tsv"
POLL_SECONDS = 2
JOB_TIMEOUT_SECONDS = 900


@dataclass
class Api:
    """How the steps reach the API: `call(method, path, token, json)` answers like `requests`."""
    call: Callable[..., requests.Response]


class SmokeFailure(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def run(api: Api, token_a: str, token_b: str, log=print) -> dict:
    """The steps; returns what was measured. Raises SmokeFailure with a sentence at the first step that fails."""
    started = time.monotonic()
    r = api.call("GET", "/jobs", None)
    check(r.status_code == 401, f"an anonymous GET /jobs answered {r.status_code}, not 401")
    log("anonymous GET /jobs: 401")

    r = api.call("POST", "/jobs", token_a, {"fileName": EXAMPLE.name, "fileSize": EXAMPLE.stat().st_size, "design": DESIGN.read_text()})
    check(r.status_code == 201, f"POST /jobs answered {r.status_code}: {r.text[:300]}")
    job = r.json()
    job_id = job["jobId"]
    log(f"submitted job {job_id}")
    put = requests.put(job["uploadUrl"], data=EXAMPLE.read_bytes(), timeout=120)
    check(put.status_code == 200, f"the presigned upload answered {put.status_code}: {put.text[:300]}")
    log(f"uploaded {EXAMPLE.name} ({EXAMPLE.stat().st_size} bytes)")

    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while True:
        r = api.call("GET", f"/jobs/{job_id}", token_a)
        check(r.status_code == 200, f"GET /jobs/{job_id} answered {r.status_code}: {r.text[:300]}")
        body = r.json()
        if body["status"] in ("SUCCEEDED", "FAILED"):
            break
        check(time.monotonic() < deadline, f"job {job_id} not finished after {JOB_TIMEOUT_SECONDS} s: {body}")
        time.sleep(POLL_SECONDS)
    check(body["status"] == "SUCCEEDED", f"job {job_id} {body['status']}: {body.get('error')}")
    log(f"job SUCCEEDED in {time.monotonic() - started:.0f} s: {body['summary'].get('proteinsKept')} proteins kept")

    page = api.call("GET", f"/jobs/{job_id}/results?table=de&limit=5", token_a)
    check(page.status_code == 200 and len(page.json()["rows"]) == 5, f"results page: {page.status_code} {page.text[:300]}")
    r = api.call("GET", f"/jobs/{job_id}/files/de/results.parquet", token_a)
    check(r.status_code == 307, f"GET /jobs/{job_id}/files/de/results.parquet answered {r.status_code}")
    parquet = requests.get(r.headers["location"], timeout=120)
    check(parquet.status_code == 200 and parquet.content[:4] == b"PAR1", f"download: {parquet.status_code}")
    log(f"downloaded de/results.parquet ({len(parquet.content)} bytes) through a presigned URL")

    listing = api.call("GET", "/jobs", token_b)
    check(listing.status_code == 200, f"user B's GET /jobs answered {listing.status_code}")
    check(all(j["jobId"] != job_id for j in listing.json()["recent"]), "user B lists user A's job")
    for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/results", f"/jobs/{job_id}/files/de/results.parquet"):
        r = api.call("GET", path, token_b)
        check(r.status_code == 404, f"user B's GET {path} answered {r.status_code}, not 404")
    log("user B: the job is not listed; poll, results and download answer 404")
    return {"jobId": job_id, "seconds": round(time.monotonic() - started, 1), "parquetBytes": len(parquet.content)}


# ---------------------------------------------------------------------------------------------- deployed stack
def http_api(base_url: str) -> Api:
    def call(method, path, token, body=None):
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, base_url.rstrip("/") + path, headers=headers, json=body, timeout=60,
                                allow_redirects=False)
    return Api(call)


def stack_outputs(cloudformation, stack: str) -> dict:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def cognito_users(cognito, pool: str, client: str, count: int = 2):
    """Throwaway users of the pool, signed in; yields their ID tokens, then deletes the users."""
    names, tokens = [], []
    try:
        for _ in range(count):
            name = f"proteo-smoke-{secrets.token_hex(4)}@example.invalid"
            password = secrets.token_urlsafe(18) + "aA1"
            cognito.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS",
                                      TemporaryPassword=password)
            names.append(name)
            cognito.admin_set_user_password(UserPoolId=pool, Username=name, Password=password, Permanent=True)
            auth = cognito.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                         AuthParameters={"USERNAME": name, "PASSWORD": password})
            tokens.append(auth["AuthenticationResult"]["IdToken"])
        yield tokens
    finally:
        for name in names:
            cognito.admin_delete_user(UserPoolId=pool, Username=name)


def main() -> int:
    import os

    import boto3

    parser = argparse.ArgumentParser(description="Smoke-test a deployed proteo stack with the bundled example.")
    parser.add_argument("--stack", default="proteo", help="CloudFormation stack name (samconfig.toml: proteo)")
    parser.add_argument("--region", default=None, help="AWS region (default: the CLI's configured region)")
    args = parser.parse_args()
    session = boto3.session.Session(region_name=args.region)
    outputs = stack_outputs(session.client("cloudformation"), args.stack)
    api = http_api(outputs["ApiUrl"])
    given = os.environ.get("PROTEO_SMOKE_TOKEN_A"), os.environ.get("PROTEO_SMOKE_TOKEN_B")
    try:
        if all(given):
            result = run(api, *given)
        else:
            if "UserPoolId" not in outputs:
                print("the stack uses an external identity provider: set PROTEO_SMOKE_TOKEN_A and _B to ID tokens "
                      "of two users", file=sys.stderr)
                return 2
            users = cognito_users(session.client("cognito-idp"), outputs["UserPoolId"], outputs["UserPoolClientId"])
            tokens = next(users)
            try:
                result = run(api, *tokens)
            finally:
                users.close()
    except SmokeFailure as e:
        print(f"smoke test FAILED: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
