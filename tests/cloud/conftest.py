"""Fixtures of the local-AWS end-to-end tests: moto (S3, DynamoDB, Step Functions, Lambda) + `cargo lambda watch`,
set up from infra/template.yaml after the SAM transform.

From the transformed template the harness takes: each function's role policies (each function's watcher runs with
an access key of its own, and moto_server.py's IAM enforcer evaluates every call against that role), the state
machine's role (the interpreter's calls), the table's keys and indexes, the bucket's upload notification, each
function's environment and reserved concurrency, the state machine's definition substitutions, and the HTTP API's
routes and JWT authorizer (apigw.py plays API Gateway). Everything binds to 127.0.0.1. Processes are started in their
own process groups and killed as groups at the end of the session, whatever the outcome. Run through
`scripts/test-cloud`.
"""

import io
import json
import os
import secrets
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
import botocore.config
import pytest
import requests

sys.path.insert(0, str(Path(__file__).parent))
import iam  # noqa: E402
from apigw import HttpApi, IdentityProvider  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra/template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
STACK = "proteo"  # samconfig.toml's stack name: the bucket the checked-in events (tests/events) name
BUCKET = f"{STACK}-data-{ACCOUNT}-{REGION}"
TABLE = f"{STACK}-JobTable-E2E"
FUNCTIONS = ("api", "ingest", "quant", "qc", "de", "pathway", "report")
LAMBDA_PORT = int(os.environ.get("PROTEO_LAMBDA_PORT", "9000"))  # the api function's watcher (other ports are free)
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/proteo/target"))
ISSUER = "https://idp.proteo-e2e.test/pool"
AUDIENCE = "proteo-e2e-web"
# The template's parameters for this stack: one in flight per stage function (the burst test's reserved
# concurrency), and the local identity provider instead of a Cognito pool.
# Small protein shards, so the 1 000-run report of scenario l goes through the Distributed Map (the real DIA-NN
# reports of scenario j hold a few hundred cells and stay in one shard; the Map is run on a real report by the
# pipeline test `a_real_dia_nn_report_through_the_map_equals_quantification_in_place`).
PARAMETERS = {"StageConcurrency": "1", "AuthIssuer": ISSUER, "AuthAudience": AUDIENCE, "QuantShardCells": "40000",
              "QuantMaxConcurrency": "4"}
# The throttling retrier waits at most 30 s on AWS; here at most this, so the burst test ends in minutes (the ASL's
# IntervalSeconds floor is 1 s, so the cap is what can be scaled).
THROTTLE_MAX_DELAY_SECONDS = 2
HARNESS_KEY = "AKIAHARNESS" + secrets.token_hex(5).upper()
QUIET_HEADER = "x-proteo-harness-quiet"

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


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------------ the template
@dataclass
class Deployment:
    """The transformed template, resolved for the harness's stack."""
    template: dict
    resolver: iam.Resolver
    functions: dict  # binary name -> logical id
    state_machine_arn: str

    def resource(self, logical_id: str) -> dict:
        return self.template["Resources"][logical_id]

    def properties(self, logical_id: str) -> dict:
        return self.resolver.resolve(self.resource(logical_id)["Properties"])

    def role_policies(self, logical_id: str) -> list[dict]:
        return iam.role_policies(self.template, self.resolver, iam.role_of(self.template, logical_id))

    def principals(self) -> dict:
        """name -> {arn, policies}: each function's role and the state machine's role."""
        out = {}
        for name, logical in {**self.functions, "statemachine": "JobStateMachine"}.items():
            role = iam.role_of(self.template, logical)
            out[name] = {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{STACK}-{role}/{name}",
                         "role": role, "policies": self.role_policies(logical)}
        return out


def deploy(template_path: Path, parameters: dict) -> Deployment:
    template = iam.sam_transform(template_path)
    resources = template["Resources"]
    functions = {res["Metadata"]["BuildProperties"]["Binary"]: logical for logical, res in resources.items()
                 if res["Type"] == "AWS::Lambda::Function"}
    state_machine = next(r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine")
    names = iam.Names(REGION, ACCOUNT, STACK, parameters, {})
    sm_name = iam.Resolver({"Resources": {}}, names).resolve(state_machine["Properties"]["StateMachineName"])
    sm_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{sm_name}"
    physical = {
        "DataBucket": {"Ref": BUCKET, "Arn": f"arn:aws:s3:::{BUCKET}"},
        "JobTable": {"Ref": TABLE, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"},
        "JobStateMachine": {"Ref": sm_arn, "Name": sm_name},
        "HttpApi": {"Ref": "e2eapi"},
        "DropInUploadPolicy": {"Ref": f"arn:aws:iam::{ACCOUNT}:policy/{STACK}-DropInUploadPolicy"},
    }
    for name, logical in functions.items():
        physical[logical] = {"Ref": name, "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"}
    for logical, res in resources.items():
        if res["Type"] == "AWS::IAM::Role":
            physical[logical] = {"Ref": f"{STACK}-{logical}", "Arn": f"arn:aws:iam::{ACCOUNT}:role/{STACK}-{logical}"}
    names.physical = physical
    return Deployment(template, iam.Resolver(template, names), functions, sm_arn)


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    return deploy(TEMPLATE, PARAMETERS)


def tuned_definition(definition: str) -> str:
    """The state machine as deployed, with the throttling retrier's cap lowered to THROTTLE_MAX_DELAY_SECONDS, and
    the Distributed Map in the closest form moto 5.2.5 runs: its ASL parser has no ItemBatcher, so each child gets
    one manifest item (the quant function takes a batch or a single item). ItemReader (S3 JSON), MaxConcurrencyPath,
    ToleratedFailurePercentage and ResultWriter run as written; the production definition keeps the batcher and is
    checked by asl-validator and cfn-lint (scripts/validate-infra)."""
    doc = json.loads(definition)
    tuned, lambda_tasks = 0, 0

    def walk(states: dict) -> None:
        nonlocal tuned, lambda_tasks
        for state in states.values():
            if state.get("Type") == "Map":
                assert state.pop("ItemBatcher", None) is not None, "the Map batches its items in production"
                walk(state["ItemProcessor"]["States"])
            if state.get("Resource") == "arn:aws:states:::lambda:invoke":
                lambda_tasks += 1
            for retrier in state.get("Retry", []):
                if retrier["ErrorEquals"] == ["Lambda.TooManyRequestsException"]:
                    retrier["MaxDelaySeconds"] = THROTTLE_MAX_DELAY_SECONDS
                    tuned += 1

    walk(doc["States"])
    assert tuned == lambda_tasks >= 3, f"expected a throttling retrier on each of the {lambda_tasks} Lambda Tasks, found {tuned}"
    return json.dumps(doc)


# ---------------------------------------------------------------------------------------------------- the stack
@dataclass
class Stack:
    moto_url: str
    function_urls: dict
    state_machine_arn: str
    faults_file: Path
    fault_log: Path
    call_log: Path
    invoke_log: Path
    workdir: Path
    idp: IdentityProvider
    gateway: HttpApi
    deployment: Deployment
    s3: object = field(repr=False)
    ddb: object = field(repr=False)
    sfn: object = field(repr=False)

    # ---- the API, through API Gateway's JWT authorizer (user None: no token)
    def api(self, method: str, path: str, user: str | None = "alice", token: str | None = None,
            **kw) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        token = token if token is not None else (self.idp.token(user) if user else None)
        if token:
            headers["authorization"] = f"Bearer {token}"
        return self.gateway.request(method, path, headers=headers, json_body=kw.pop("json", None), **kw)

    def sub(self, user: str) -> str:
        return self.idp.sub(user)

    # ---- direct invokes (a redelivered S3 event; the checked-in events)
    def invoke(self, function: str, event: dict) -> requests.Response:
        return requests.post(f"{self.function_urls[function]}/2015-03-31/functions/{function}/invocations",
                             data=json.dumps(event), headers={"content-type": "application/json"}, timeout=1800)

    def inject_transient(self, function: str, job_id: str) -> None:
        """The harness answers the first invoke of `function` for `job_id` with a Transient error."""
        faults = json.loads(self.faults_file.read_text()) if self.faults_file.exists() else {}
        targets = faults.setdefault(function, [])
        targets.append(job_id)
        self.faults_file.write_text(json.dumps(faults))

    def inject_corruption(self, function: str, job_id: str, keys: list[str]) -> None:
        """Just before the first invoke of `function` for `job_id`, the harness overwrites the job's `keys` (relative
        to jobs/<id>/) with bytes that are not Parquet."""
        faults = json.loads(self.faults_file.read_text()) if self.faults_file.exists() else {}
        faults.setdefault("corrupt", {}).setdefault(function, {})[job_id] = keys
        self.faults_file.write_text(json.dumps(faults))

    def injected_faults(self) -> list[dict]:
        return read_jsonl(self.fault_log)

    def calls(self) -> list[dict]:
        return read_jsonl(self.call_log)

    def invokes(self) -> list[dict]:
        return read_jsonl(self.invoke_log)

    def client_as(self, principal: str, service: str):
        """A boto3 client signing with `principal`'s key (a function's or the state machine's role)."""
        key = self.keys[principal]
        return boto3.client(service, endpoint_url=self.moto_url, region_name=REGION, aws_access_key_id=key,
                            aws_secret_access_key="unused-by-the-harness",
                            config=botocore.config.Config(signature_version="s3v4"))

    def quiet_s3(self):
        """The harness's S3 client, its uploads sending no notification (`QUIET_HEADER`, honoured for the harness's
        own key only): to set up objects a test then announces itself."""
        client = _clients(self.moto_url)["s3"]

        def add_header(request, **_):
            request.headers[QUIET_HEADER] = "1"
        client.meta.events.register("before-sign.s3.PutObject", add_header)
        return client

    keys: dict = field(default_factory=dict, repr=False)


def _clients(endpoint: str):
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id=HARNESS_KEY,
              aws_secret_access_key="harness")
    return {name: boto3.client(name, **kw) for name in ("s3", "dynamodb", "stepfunctions", "lambda", "iam")}


def _create_table(ddb, deployment: Deployment) -> None:
    props = deployment.properties("JobTable")
    kw = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode") if k in props}
    if props.get("GlobalSecondaryIndexes"):
        kw["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    ddb.create_table(TableName=TABLE, **kw)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification=ttl)


def _notifications(deployment: Deployment, functions_by_arn: dict) -> list[dict]:
    config = deployment.properties("DataBucket").get("NotificationConfiguration", {})
    rules = []
    for c in config.get("LambdaConfigurations", []):
        assert c["Event"] == "s3:ObjectCreated:*", c
        filters = {r["Name"].lower(): r["Value"] for r in c.get("Filter", {}).get("S3Key", {}).get("Rules", [])}
        rules.append({"bucket": BUCKET, "function": functions_by_arn[c["Function"]],
                      "prefix": filters.get("prefix", ""), "suffix": filters.get("suffix", "")})
    return rules


@pytest.fixture(scope="session")
def built() -> Path:
    """Build the functions and the CLI once, into the target dir `cargo lambda watch` uses too (so its first
    invoke of each function starts a ready binary instead of compiling)."""
    # Every binary of the workspace (the functions and `proteo`), with the workspace's feature set: the one
    # scripts/test-browser and scripts/test-install build `proteo` with, so the dependencies are built once for all
    # three (a `-p` list resolves features for those packages alone, and rebuilt most of the tree a second time).
    cmd = ["cargo", "build", "--workspace", "--bins", "--locked"]
    started = time.monotonic()
    env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET_DIR), "CARGO_TERM_COLOR": "never"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"cargo build of the functions failed:\n{proc.stderr[-6000:]}", pytrace=False)
    report(f"cargo build ({len(FUNCTIONS)} functions + proteo CLI, dev profile): {time.monotonic() - started:.1f} s")
    return TARGET_DIR / "debug"


@pytest.fixture(scope="session")
def stack(built: Path, deployment: Deployment, tmp_path_factory) -> Stack:
    workdir = tmp_path_factory.mktemp("cloud")
    moto_port = _free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    ports = {name: (LAMBDA_PORT if name == "api" else _free_port()) for name in FUNCTIONS}
    function_urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    faults_file, fault_log = workdir / "faults.json", workdir / "faults.log"
    call_log, invoke_log = workdir / "calls.jsonl", workdir / "invokes.jsonl"
    idp = IdentityProvider(ISSUER, AUDIENCE)
    principals = deployment.principals()
    # A lab's uploader: the template's drop-in policy, tagged with the owner id of alice (her token's sub).
    principals["lab"] = {"arn": f"arn:aws:iam::{ACCOUNT}:user/lab-uploader", "tags": {"proteo-owner": idp.sub("alice")},
                         "policies": [deployment.properties("DropInUploadPolicy")["PolicyDocument"]]}
    keys = {name: "AKIA" + secrets.token_hex(8).upper() for name in principals}
    functions_by_arn = {f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{n}": n for n in deployment.functions}
    reserved = {}
    for name, logical in deployment.functions.items():
        value = deployment.properties(logical).get("ReservedConcurrentExecutions")
        reserved[name] = int(value) if value is not None else None
    config = {
        "region": REGION, "account": ACCOUNT, "bucket": BUCKET,
        "principals": {name: {"arn": p["arn"], "policies": p["policies"], "tags": p.get("tags", {})}
                       for name, p in principals.items()},
        "access_keys": {keys[name]: name for name in principals if name != "statemachine"},
        "interpreter_principal": "statemachine",
        "harness_keys": [HARNESS_KEY],
        "functions": {name: {"url": function_urls[name], "reserved": reserved[name]} for name in FUNCTIONS},
        "notifications": _notifications(deployment, functions_by_arn),
        "call_log": str(call_log), "invoke_log": str(invoke_log),
    }
    config_file = workdir / "harness.json"
    config_file.write_text(json.dumps(config, indent=1))
    procs: list[subprocess.Popen] = []
    try:
        # ---- moto, IAM enforced, with Lambda invokes forwarded to the functions' watchers
        moto_log = workdir / "moto.log"
        moto_env = {**os.environ, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": HARNESS_KEY,
                    "AWS_SECRET_ACCESS_KEY": "harness",
                    "PROTEO_HARNESS_FAULTS": str(faults_file), "PROTEO_HARNESS_FAULT_LOG": str(fault_log)}
        moto = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("moto_server.py")), "--port", str(moto_port),
             "--config", str(config_file)],
            stdout=moto_log.open("w"), stderr=subprocess.STDOUT, env=moto_env, start_new_session=True)
        procs.append(moto)
        _wait_for("moto", lambda: requests.get(f"{moto_url}/moto-api/data.json", timeout=2).ok, 60, moto, moto_log)
        requests.post(f"{moto_url}/moto-api/config", timeout=10, json={
            "stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}).raise_for_status()

        c = _clients(moto_url)
        c["s3"].create_bucket(Bucket=BUCKET)
        _create_table(c["dynamodb"], deployment)
        # moto needs a role and a zip to register a function; the code that runs is the watcher's build.
        role = c["iam"].create_role(RoleName="proteo-e2e", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\n")
        for name in FUNCTIONS:
            c["lambda"].create_function(FunctionName=name, Runtime="provided.al2023", Role=role, Handler="bootstrap",
                                        Architectures=["arm64"], Code={"ZipFile": code.getvalue()})
        sm = deployment.properties("JobStateMachine")
        definition = (REPO / "statemachine.asl.json").read_text()
        for k, v in sm["DefinitionSubstitutions"].items():
            definition = definition.replace("${" + k + "}", str(v))
        assert "${" not in definition, "statemachine.asl.json has a substitution the template does not fill"
        created = c["stepfunctions"].create_state_machine(
            name=sm["StateMachineName"], definition=tuned_definition(definition), roleArn=role, type="STANDARD")
        assert created["stateMachineArn"] == deployment.state_machine_arn, created["stateMachineArn"]

        # ---- one `cargo lambda watch` per function: each with its role's key and the template's environment
        watch_env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET_DIR), "CARGO_TERM_COLOR": "never",
                     "PATH": f"{_venv_bin()}{os.pathsep}{os.environ['PATH']}"}
        for name, logical in deployment.functions.items():
            env = dict(deployment.properties(logical).get("Environment", {}).get("Variables", {}))
            env.update({"AWS_ENDPOINT_URL": moto_url, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                        "AWS_ACCESS_KEY_ID": keys[name], "AWS_SECRET_ACCESS_KEY": "unused-by-the-harness",
                        "RUST_LOG": "info"})
            env_file = workdir / f"{name}.env"
            env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
            log = workdir / f"cargo-lambda-{name}.log"
            watch = subprocess.Popen(
                [cargo_lambda(), "lambda", "watch", "-A", "127.0.0.1", "-P", str(ports[name]),
                 "--ignore-changes", "--env-file", str(env_file)],
                cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT, env=watch_env, start_new_session=True)
            procs.append(watch)

            def listening(port=ports[name]) -> bool:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            _wait_for(f"cargo lambda watch ({name})", listening, 120, watch, log)

        openapi = deployment.properties("HttpApi")["Body"]
        gateway = HttpApi(openapi, idp, function_urls["api"])
        yield Stack(moto_url=moto_url, function_urls=function_urls, state_machine_arn=deployment.state_machine_arn,
                    faults_file=faults_file, fault_log=fault_log, call_log=call_log, invoke_log=invoke_log,
                    workdir=workdir, idp=idp, gateway=gateway, deployment=deployment, s3=c["s3"],
                    ddb=c["dynamodb"], sfn=c["stepfunctions"], keys=keys)
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
