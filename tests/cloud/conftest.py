"""Fixtures of the local-AWS end-to-end tests: moto (S3, DynamoDB, Step Functions, Lambda) + `cargo lambda watch`.

Everything binds to 127.0.0.1. Processes are started in their own process groups and killed as groups at the end of
the session, whatever the outcome. Run through `scripts/test-cloud`.
"""

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
# The bucket infra/template.yaml names for the stack `proteo` (samconfig.toml) in moto's account and region: the
# checked-in events (tests/events) name it too.
BUCKET = "proteo-data-123456789012-us-east-1"
TABLE = "proteo-e2e-jobs"
STATE_MACHINE_NAME = "proteo-e2e-jobs"
FUNCTIONS = ("api", "ingest", "qc", "de", "pathway")
LAMBDA_PORT = int(os.environ.get("PROTEO_LAMBDA_PORT", "9000"))
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/proteo/target"))
DUMMY_CREDS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}

# Measurements collected by the tests and printed at the end of the run (see pytest_terminal_summary).
REPORT: list[str] = []


def report(line: str) -> None:
    REPORT.append(line)


def pytest_terminal_summary(terminalreporter):
    if REPORT:
        terminalreporter.section("local-AWS measurements")
        for line in REPORT:
            terminalreporter.write_line(line)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(what: str, check, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if check():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout} s:\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers (cargo-lambda has function processes as children)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def _venv_bin() -> Path:
    return Path(sys.executable).parent


def cargo_lambda() -> str:
    """The cargo-lambda that scripts/local-aws installs into this venv (or one on PATH)."""
    found = shutil.which("cargo-lambda", path=f"{_venv_bin()}{os.pathsep}{os.environ['PATH']}")
    assert found, "cargo-lambda not found: run scripts/local-aws"
    return found


@dataclass
class Stack:
    moto_url: str
    lambda_url: str
    state_machine_arn: str
    faults_file: Path
    fault_log: Path
    workdir: Path
    s3: object = field(repr=False)
    ddb: object = field(repr=False)
    sfn: object = field(repr=False)

    # ---- the API, through cargo-lambda's HTTP → API Gateway v2 wrapper
    def api(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 600)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, f"{self.lambda_url}/lambda-url/api{path}", **kw)

    # ---- direct invokes (what S3 would do for ingest)
    def invoke(self, function: str, event: dict) -> requests.Response:
        return requests.post(f"{self.lambda_url}/2015-03-31/functions/{function}/invocations",
                             data=json.dumps(event), headers={"content-type": "application/json"}, timeout=1800)

    def inject_transient(self, function: str, job_id: str) -> None:
        """The harness answers the first invoke of `function` for `job_id` with a Transient error."""
        faults = json.loads(self.faults_file.read_text()) if self.faults_file.exists() else {}
        targets = faults.setdefault(function, [])
        targets.append(job_id)
        self.faults_file.write_text(json.dumps(faults))

    def injected_faults(self) -> list[dict]:
        if not self.fault_log.exists():
            return []
        return [json.loads(line) for line in self.fault_log.read_text().splitlines() if line.strip()]


def _clients(endpoint: str):
    kw = dict(endpoint_url=endpoint, region_name=REGION,
              aws_access_key_id=DUMMY_CREDS["AWS_ACCESS_KEY_ID"],
              aws_secret_access_key=DUMMY_CREDS["AWS_SECRET_ACCESS_KEY"])
    return {name: boto3.client(name, **kw) for name in ("s3", "dynamodb", "stepfunctions", "lambda", "iam")}


@pytest.fixture(scope="session")
def built() -> Path:
    """Build the five functions and the CLI once, into the target dir `cargo lambda watch` uses too (so its first
    invoke of each function starts a ready binary instead of compiling)."""
    cmd = ["cargo", "build"]
    for package in (*FUNCTIONS, "proteo-cli"):  # package name = binary name for the functions
        cmd += ["-p", package]
    started = time.monotonic()
    env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET_DIR), "CARGO_TERM_COLOR": "never"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"cargo build of the functions failed:\n{proc.stderr[-6000:]}", pytrace=False)
    report(f"cargo build (5 functions + proteo CLI, dev profile): {time.monotonic() - started:.1f} s")
    return TARGET_DIR / "debug"


@pytest.fixture(scope="session")
def stack(built: Path, tmp_path_factory) -> Stack:
    workdir = tmp_path_factory.mktemp("cloud")
    moto_port = _free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    lambda_url = f"http://127.0.0.1:{LAMBDA_PORT}"
    faults_file = workdir / "faults.json"
    fault_log = workdir / "faults.log"
    procs: list[subprocess.Popen] = []
    try:
        # ---- moto, with Lambda invokes forwarded to cargo-lambda
        moto_log = workdir / "moto.log"
        moto_env = {**os.environ, **DUMMY_CREDS, "AWS_DEFAULT_REGION": REGION,
                    "PROTEO_HARNESS_FAULTS": str(faults_file), "PROTEO_HARNESS_FAULT_LOG": str(fault_log)}
        moto = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("moto_server.py")), "--port", str(moto_port),
             "--lambda-url", lambda_url],
            stdout=moto_log.open("w"), stderr=subprocess.STDOUT, env=moto_env, start_new_session=True)
        procs.append(moto)
        _wait_for("moto", lambda: requests.get(f"{moto_url}/moto-api/data.json", timeout=2).ok, 60, moto, moto_log)
        requests.post(f"{moto_url}/moto-api/config", timeout=10, json={
            "stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}).raise_for_status()

        c = _clients(moto_url)
        c["s3"].create_bucket(Bucket=BUCKET)
        c["dynamodb"].create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}])
        c["dynamodb"].update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"AttributeName": "expiresAt", "Enabled": True})
        role = c["iam"].create_role(RoleName="proteo-e2e", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
        # moto only needs a zip to register a function; the code that runs is cargo-lambda's build of functions/<name>.
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\n")
        arns = {}
        for name in FUNCTIONS:
            arns[name] = c["lambda"].create_function(
                FunctionName=name, Runtime="provided.al2023", Role=role, Handler="bootstrap",
                Architectures=["arm64"], Code={"ZipFile": code.getvalue()})["FunctionArn"]
        definition = (REPO / "statemachine.asl.json").read_text()
        substitutions = {"QcFunctionArn": arns["qc"], "DeFunctionArn": arns["de"],
                         "PathwayFunctionArn": arns["pathway"], "JobTableName": TABLE}
        for k, v in substitutions.items():
            definition = definition.replace("${" + k + "}", v)
        assert "${" not in definition, "statemachine.asl.json has a substitution the harness does not fill"
        sm_arn = c["stepfunctions"].create_state_machine(
            name=STATE_MACHINE_NAME, definition=definition, roleArn=role, type="STANDARD")["stateMachineArn"]

        # ---- cargo lambda watch: the five functions, talking to moto
        env_file = workdir / "lambda.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in {
            "PROTEO_BUCKET": BUCKET, "PROTEO_TABLE": TABLE, "PROTEO_STATE_MACHINE_ARN": sm_arn,
            "AWS_ENDPOINT_URL": moto_url, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            **DUMMY_CREDS, "RUST_LOG": "info"}.items()))
        watch_log = workdir / "cargo-lambda.log"
        watch_env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET_DIR), "CARGO_TERM_COLOR": "never",
                     "PATH": f"{_venv_bin()}{os.pathsep}{os.environ['PATH']}"}
        watch = subprocess.Popen(
            [cargo_lambda(), "lambda", "watch", "-A", "127.0.0.1", "-P", str(LAMBDA_PORT),
             "--ignore-changes", "--env-file", str(env_file)],
            cwd=REPO, stdout=watch_log.open("w"), stderr=subprocess.STDOUT, env=watch_env, start_new_session=True)
        procs.append(watch)

        def listening() -> bool:
            with socket.create_connection(("127.0.0.1", LAMBDA_PORT), timeout=1):
                return True
        _wait_for("cargo lambda watch", listening, 120, watch, watch_log)

        yield Stack(moto_url=moto_url, lambda_url=lambda_url, state_machine_arn=sm_arn, faults_file=faults_file,
                    fault_log=fault_log, workdir=workdir, s3=c["s3"], ddb=c["dynamodb"], sfn=c["stepfunctions"])
    finally:
        for proc in reversed(procs):
            _stop(proc)
        if os.environ.get("PROTEO_KEEP_LOGS"):
            print(f"\nlocal-AWS logs kept in {workdir}", file=sys.stderr)


@pytest.fixture(scope="session")
def example() -> dict:
    data = REPO / "data/example/proteinGroups.txt"
    design = REPO / "data/example/experimental_design.tsv"
    return {"data_path": data, "design_path": design, "data": data.read_bytes(), "design": design.read_text()}


@pytest.fixture(scope="session")
def local_run(built: Path, example: dict, tmp_path_factory) -> Path:
    """`proteo run` on the example with the defaults a cloud job gets (no parameters): the reference outputs."""
    out = tmp_path_factory.mktemp("local-run") / "out"
    started = time.monotonic()
    proc = subprocess.run([str(built / "proteo"), "run", str(example["data_path"]), "--design",
                           str(example["design_path"]), "--out", str(out), "--quiet"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, f"proteo run failed:\n{proc.stderr}"
    report(f"proteo run (local, same input and defaults): {time.monotonic() - started:.1f} s")
    return out
