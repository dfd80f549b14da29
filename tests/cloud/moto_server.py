"""moto (S3, DynamoDB, Step Functions, Lambda control plane) on 127.0.0.1, with Lambda invokes sent to `cargo lambda watch`.

Run as a process: `python tests/cloud/moto_server.py --port 5123 --lambda-url http://127.0.0.1:9000`.

moto's no-Docker Lambda backend (`LambdaSimpleBackend`, chosen by the config `{"lambda": {"use_docker": false}}`)
only echoes the payload. Its `invoke` is replaced here so that every invoke - including those made by the Step
Functions interpreter for `arn:aws:states:::lambda:invoke` Tasks - is forwarded over HTTP to cargo-lambda's
`POST /2015-03-31/functions/<bare name>/invocations`.

Handler errors: cargo-lambda answers them with HTTP 500 and the runtime's `{"errorType", "errorMessage"}` body; real
Lambda answers 200 with `X-Amz-Function-Error: Unhandled` and that body. moto's `LambdaResponse.invoke` copies the
`response_headers` dict our `invoke` fills into the HTTP response, and the Step Functions interpreter
(`lambda_eval_utils.execute_lambda_function_integration`) turns a `FunctionError` into a task failure whose Error is the
payload's `errorType` and whose Cause is the payload JSON - exactly what Retry/Catch match on AWS.

Fault injection (scenario d of the e2e tests): the environment variable PROTEO_HARNESS_FAULTS names a JSON file,
re-read on every invoke, mapping a function name to the job ids (or "*") whose FIRST invoke of that function is
answered with `{"errorType": "Transient", ...}` without being forwarded, e.g. `{"de": ["<jobId>"]}`. Every injected
fault is appended as a JSON line to PROTEO_HARNESS_FAULT_LOG (if set), so tests can assert it happened.
"""

import argparse
import json
import os
import signal
import sys
import threading

import requests

FORWARD_TIMEOUT_SECONDS = 1800  # the first invoke of a function waits for cargo-lambda to compile it

_lambda_url = "http://127.0.0.1:9000"
_fault_lock = threading.Lock()
_faulted: set[tuple[str, str]] = set()
_session = requests.Session()


def bare_function_name(name: str) -> str:
    """`arn:aws:lambda:us-east-1:123456789012:function:qc:$LATEST` -> `qc` (cargo-lambda 404s on ARNs)."""
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[6]
    return name.split(":")[0]


def _job_id_of(body: bytes) -> str | None:
    try:
        event = json.loads(body)
    except ValueError:
        return None
    return event.get("jobId") if isinstance(event, dict) else None


def _injected_fault(function: str, body: bytes) -> bytes | None:
    path = os.environ.get("PROTEO_HARNESS_FAULTS")
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        faults = json.load(f)
    targets = faults.get(function)
    job_id = _job_id_of(body)
    if targets is None or job_id is None or (targets != "*" and job_id not in targets):
        return None
    with _fault_lock:
        if (function, job_id) in _faulted:
            return None
        _faulted.add((function, job_id))
    log = os.environ.get("PROTEO_HARNESS_FAULT_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"function": function, "jobId": job_id, "errorType": "Transient"}) + "\n")
    message = f"injected by the e2e harness: first invoke of {function} for job {job_id} fails"
    return json.dumps({"errorType": "Transient", "errorMessage": message}).encode()


def _function_error(response_headers: dict, payload: bytes) -> bytes:
    response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["Content-Length"] = str(len(payload))
    return payload


def forwarding_invoke(self, function_name, qualifier, body, headers, response_headers):
    """Replacement for `LambdaSimpleBackend.invoke(self, function_name, qualifier, body, headers, response_headers)`."""
    fn = self.get_function(function_name, qualifier)  # unknown function -> moto's ResourceNotFoundException (404)
    name = bare_function_name(fn.function_name)
    if isinstance(body, str):
        body = body.encode()
    body = body or b"{}"

    fault = _injected_fault(name, body)
    if fault is not None:
        return _function_error(response_headers, fault)

    url = f"{_lambda_url}/2015-03-31/functions/{name}/invocations"
    try:
        resp = _session.post(url, data=body, headers={"content-type": "application/json"},
                             timeout=FORWARD_TIMEOUT_SECONDS)
    except requests.RequestException as e:
        # What a Lambda runtime crash looks like to the caller; Step Functions sees a task failure, not a hang.
        payload = json.dumps({"errorType": "Runtime.Unreachable", "errorMessage": f"cargo lambda at {url}: {e}"})
        return _function_error(response_headers, payload.encode())

    if resp.status_code == 200:
        response_headers["Content-Length"] = str(len(resp.content))
        return resp.content
    try:
        error = resp.json()
        if not (isinstance(error, dict) and "errorType" in error):
            raise ValueError
        payload = json.dumps({"errorType": error["errorType"], "errorMessage": error.get("errorMessage", "")})
    except ValueError:
        payload = json.dumps({"errorType": "Runtime.Unknown",
                              "errorMessage": f"HTTP {resp.status_code} from cargo lambda: {resp.text[:500]}"})
    return _function_error(response_headers, payload.encode())


def main() -> None:
    global _lambda_url
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lambda-url", default=_lambda_url)
    args = parser.parse_args()
    _lambda_url = args.lambda_url.rstrip("/")

    # The Step Functions interpreter calls Lambda and DynamoDB through boto3 at http://localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(args.port)

    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    LambdaSimpleBackend.invoke = forwarding_invoke

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    print(f"moto listening on 127.0.0.1:{args.port}, Lambda invokes -> {_lambda_url}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
