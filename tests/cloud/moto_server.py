"""moto (S3, DynamoDB, Step Functions, Lambda control plane) on 127.0.0.1, made to behave like AWS where the tests
need it: IAM enforced per call at resource level, S3 upload notifications, Lambda invokes forwarded to each
function's `cargo lambda watch`, reserved concurrency.

Run as a process: `python tests/cloud/moto_server.py --port 5123 --config harness.json` (conftest writes the config).

IAM. Every request is attributed to a principal by the access key in its SigV4 signature (header or presigned URL):
each function's role and the state machine's role (after the SAM transform of infra/template.yaml) have a key of
their own; the Step Functions interpreter inside moto signs with the fixed key `ak`, which is the state machine's
role here. The call's action, resource ARN and condition keys (`iam.describe`) are evaluated against that role's
policies (`iam.evaluate`); a denied call is answered as the service answers AccessDenied, so the function sees what
it would see on AWS. Every decision is appended to the call log. Unknown keys are refused; the harness's own key
(test setup and inspection) is allowed everything and logged as `harness`.

S3 notifications (moto sends none): after a successful PutObject whose key matches a `LambdaConfigurations` filter
of the bucket in the template, the S3 event is delivered to the function asynchronously, as S3 → Lambda does (under
the function's reserved concurrency, waiting for a slot as the async invoke queue does; retried twice on a function
error). Every delivery is appended to the invoke log.

Lambda invokes (the Step Functions `lambda:invoke` Tasks): forwarded over HTTP to the function's watcher at
`POST /2015-03-31/functions/<bare name>/invocations`. Beyond the function's reserved concurrency (invokes in flight)
the invoke is answered 429 `TooManyRequestsException`, as Lambda answers; Step Functions sees
`Lambda.TooManyRequestsException`. cargo-lambda answers a handler error with HTTP 500, real Lambda with 200 +
`X-Amz-Function-Error: Unhandled`; the forwarder translates, so Retry/Catch see the payload's `errorType`.

Fault injection (scenario d of the e2e tests): the environment variable PROTEO_HARNESS_FAULTS names a JSON file,
re-read on every invoke, mapping a function name to the job ids (or "*") whose FIRST invoke of that function is
answered with `{"errorType": "Transient", ...}` without being forwarded, e.g. `{"de": ["<jobId>"]}`. Every injected
fault is appended as a JSON line to PROTEO_HARNESS_FAULT_LOG (if set), so tests can assert it happened.
A `"corrupt"` entry, `{"corrupt": {"report": {"<jobId>": ["qc/distributions.parquet"]}}}`, instead overwrites those
keys of the job with bytes that are not Parquet just before the FIRST invoke of that function for the job is
forwarded (scenario k: the function itself then fails on its input, as it would on a damaged object).
"""

import argparse
import io
import json
import os
import queue
import signal
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
import iam  # noqa: E402
from s3events import s3_put_event  # noqa: E402

FORWARD_TIMEOUT_SECONDS = 1800  # the first invoke of a function waits for cargo-lambda to compile it
# Lambda's asynchronous invoke retries a failed event twice (AWS Lambda Developer Guide, "Asynchronous invocation");
# the waits between the attempts are 1 and 2 minutes there, seconds here.
ASYNC_RETRY_WAITS_SECONDS = (1, 2)
INTERPRETER_ACCESS_KEY = "ak"  # moto/stepfunctions/parser/asl/utils/boto_client.py

_config: dict = {}
_log_lock = threading.Lock()
_fault_lock = threading.Lock()
_faulted: set[tuple[str, str]] = set()
_gates: dict[str, threading.BoundedSemaphore] = {}
_session = requests.Session()
_notifications: "queue.Queue[tuple[str, str, int, str]]" = queue.Queue()


def _append(path_key: str, record: dict) -> None:
    path = _config.get(path_key)
    if not path:
        return
    record = {"t": time.time(), **record}
    with _log_lock, open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def bare_function_name(name: str) -> str:
    """`arn:aws:lambda:us-east-1:123456789012:function:qc:$LATEST` -> `qc` (cargo-lambda 404s on ARNs)."""
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[6]
    return name.split(":")[0]


def _function_url(name: str) -> str:
    return _config["functions"][name]["url"].rstrip("/")


# ------------------------------------------------------------------------------------------------------- IAM
class IamEnforcer:
    """WSGI middleware: attribute, describe, evaluate and log every call; refuse denied ones as AWS does; after a
    successful upload, queue the S3 notification."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        key, service = iam.access_key_of(headers, query)
        body = b""
        if service in ("dynamodb", "states", "lambda"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
        call = iam.describe(service or "unknown", method, path, query, headers, body,
                            _config["region"], _config["account"])
        principal = self._principal(key)
        if principal is None:
            _append("call_log", {"principal": None, "accessKey": key, **call.to_json(), "allowed": False,
                                 "reason": "unknown access key"})
            return self._deny(service, call, f"The security token included in the request is invalid ({key}).",
                              start_response, code_json="UnrecognizedClientException", code_s3="InvalidAccessKeyId")
        if principal == "harness":
            decision = iam.Decision(True, "harness")
        else:
            spec = _config["principals"][principal]
            context = {**call.context, **{f"aws:PrincipalTag/{k}": v for k, v in spec.get("tags", {}).items()}}
            decision = iam.evaluate(spec["policies"], iam.Call(call.action, call.resource, context))
        _append("call_log", {"principal": principal, **call.to_json(), "allowed": decision.allowed,
                             "reason": decision.reason})
        if not decision.allowed:
            arn = _config["principals"][principal]["arn"]
            message = (f"User: {arn} is not authorized to perform: {call.action} on resource: {call.resource} "
                       f"because no identity-based policy allows the {call.action} action")
            return self._deny(service, call, message, start_response)

        expired = _presigned_expired(query)
        if service == "s3" and expired:
            return self._deny(service, call, f"Request has expired ({expired} s ago)", start_response)
        if not (service == "s3" and method == "PUT" and call.action == "s3:PutObject"):
            return self.app(environ, start_response)
        captured = {}

        def capture(status, response_headers, exc_info=None):
            captured["status"] = int(status.split()[0])
            captured["etag"] = next((v for k, v in response_headers if k.lower() == "etag"), "")
            return start_response(status, response_headers, exc_info)

        result = self.app(environ, capture)
        quiet = principal == "harness" and environ.get("HTTP_X_PROTEO_HARNESS_QUIET") == "1"
        if captured.get("status") == 200 and not quiet:
            bucket, _, object_key = urllib.parse.unquote(path.lstrip("/")).partition("/")
            size = int(environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH") or environ.get("CONTENT_LENGTH") or 0)
            _queue_notification(bucket, object_key, size, captured["etag"].strip('"'))
        return result

    @staticmethod
    def _principal(key: str | None) -> str | None:
        if key is None:
            return None
        if key == INTERPRETER_ACCESS_KEY:
            return _config["interpreter_principal"]
        if key in _config["harness_keys"]:
            return "harness"
        return _config["access_keys"].get(key)

    @staticmethod
    def _deny(service, call, message, start_response, code_json="AccessDeniedException", code_s3="AccessDenied"):
        if service == "s3":
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code_s3}</Code>'
                    f"<Message>{message}</Message><Resource>{call.resource}</Resource></Error>").encode()
            start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
            return [body]
        if service == "lambda":
            body = json.dumps({"Type": "User", "message": message}).encode()
            start_response("403 Forbidden", [("Content-Type", "application/json"), ("x-amzn-ErrorType", code_json),
                                              ("Content-Length", str(len(body)))])
            return [body]
        kind = f"com.amazon.coral.service#{code_json}" if service == "dynamodb" else code_json
        body = json.dumps({"__type": kind, "message": message}).encode()
        start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"),
                                           ("Content-Length", str(len(body)))])
        return [body]


def _presigned_expired(query: dict) -> int:
    """Seconds since a presigned URL expired (X-Amz-Date + X-Amz-Expires), 0 while it is valid or not presigned."""
    if "X-Amz-Date" not in query or "X-Amz-Expires" not in query:
        return 0
    from datetime import datetime, timezone
    signed = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    late = time.time() - (signed + int(query["X-Amz-Expires"]))
    return int(late) + 1 if late > 0 else 0


# ------------------------------------------------------------------------------------------ S3 notifications
def _queue_notification(bucket: str, key: str, size: int, etag: str) -> None:
    for rule in _config.get("notifications", []):
        if rule["bucket"] == bucket and key.startswith(rule.get("prefix", "")) and key.endswith(rule.get("suffix", "")):
            _notifications.put((rule["function"], key, size, etag))


def _deliver_notifications() -> None:
    while True:
        function, key, size, etag = _notifications.get()
        threading.Thread(target=_deliver_one, args=(function, key, size, etag), daemon=True).start()


def _deliver_one(function: str, key: str, size: int, etag: str) -> None:
    event = s3_put_event(_config["bucket"], _config["region"], key, size, etag)
    url = f"{_function_url(function)}/2015-03-31/functions/{function}/invocations"
    for attempt, wait in enumerate((0, *ASYNC_RETRY_WAITS_SECONDS)):
        time.sleep(wait)
        with _gates[function]:  # the async invoke queue waits for a free slot of the reserved concurrency
            started = time.time()
            try:
                resp = _session.post(url, data=json.dumps(event), timeout=FORWARD_TIMEOUT_SECONDS)
                status = resp.status_code
            except requests.RequestException as e:
                status = f"unreachable: {e}"
        _append("invoke_log", {"function": function, "kind": "s3-notification", "key": key, "attempt": attempt + 1,
                               "status": status, "seconds": round(time.time() - started, 3)})
        if status == 200:
            return


# ------------------------------------------------------------------------------------------ Lambda invokes
class TooManyRequests(Exception):
    pass


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


CORRUPT_BYTES = b"not a parquet file: overwritten by the e2e harness\n"


def _injected_corruption(function: str, body: bytes) -> None:
    path = os.environ.get("PROTEO_HARNESS_FAULTS")
    if not path or not os.path.exists(path):
        return
    with open(path) as f:
        faults = json.load(f)
    job_id = _job_id_of(body)
    keys = faults.get("corrupt", {}).get(function, {}).get(job_id or "")
    if not keys:
        return
    with _fault_lock:
        if (f"corrupt:{function}", job_id) in _faulted:
            return
        _faulted.add((f"corrupt:{function}", job_id))
    from moto.s3.models import s3_backends
    backend = s3_backends[_config["account"]]["aws"]
    for rel in keys:
        backend.put_object(_config["bucket"], f"jobs/{job_id}/{rel}", CORRUPT_BYTES)
    log = os.environ.get("PROTEO_HARNESS_FAULT_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"function": function, "jobId": job_id, "corrupted": keys}) + "\n")


def _function_error(response_headers: dict, payload: bytes) -> bytes:
    response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["Content-Length"] = str(len(payload))
    return payload


def forwarding_invoke(self, function_name, qualifier, body, headers, response_headers):
    """Replacement for `LambdaSimpleBackend.invoke(self, function_name, qualifier, body, headers, response_headers)`."""
    from moto.awslambda.exceptions import LambdaClientError

    fn = self.get_function(function_name, qualifier)  # unknown function -> moto's ResourceNotFoundException (404)
    name = bare_function_name(fn.function_name)
    if isinstance(body, str):
        body = body.encode()
    body = body or b"{}"
    job_id = _job_id_of(body)

    gate = _gates[name]
    if not gate.acquire(blocking=False):
        _append("invoke_log", {"function": name, "kind": "throttled", "jobId": job_id})
        error = LambdaClientError("TooManyRequestsException", "Rate Exceeded.")
        error.code = 429
        raise error
    try:
        _append("invoke_log", {"function": name, "kind": "invoke", "jobId": job_id})
        fault = _injected_fault(name, body)
        if fault is not None:
            return _function_error(response_headers, fault)
        _injected_corruption(name, body)

        url = f"{_function_url(name)}/2015-03-31/functions/{name}/invocations"
        try:
            resp = _session.post(url, data=body, headers={"content-type": "application/json"},
                                 timeout=FORWARD_TIMEOUT_SECONDS)
        except requests.RequestException as e:
            # What a Lambda runtime crash looks like to the caller; Step Functions sees a task failure, not a hang.
            payload = json.dumps({"errorType": "Runtime.Unreachable", "errorMessage": f"cargo lambda at {url}: {e}"})
            return _function_error(response_headers, payload.encode())
    finally:
        gate.release()

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
    global _config
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", required=True, help="the harness config conftest writes (principals, functions)")
    args = parser.parse_args()
    _config = json.loads(Path(args.config).read_text())
    for name, spec in _config["functions"].items():
        # No reserved concurrency: the account's unreserved pool, effectively unbounded here.
        _gates[name] = threading.BoundedSemaphore(spec.get("reserved") or 1000)

    # The Step Functions interpreter calls Lambda and DynamoDB through boto3 at http://localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(args.port)

    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    LambdaSimpleBackend.invoke = forwarding_invoke
    app = IamEnforcer(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=_deliver_notifications, daemon=True).start()
    print(f"moto listening on 127.0.0.1:{args.port}, IAM enforced, invokes -> "
          f"{ {n: f['url'] for n, f in _config['functions'].items()} }", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
