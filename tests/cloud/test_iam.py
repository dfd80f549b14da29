"""IAM as AWS enforces it: the evaluator itself, the template's grants (least privilege), the calls the session's
jobs made (all allowed under today's template; the template before issue 13 denies the ones that broke every real
deployment), probes outside each role's grant, the state machine's role, and the drop-in upload policy.

The tests that read the call log run after test_e2e.py (pytest's file order), once the jobs have run.
"""

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import iam
from conftest import ACCOUNT, BUCKET, REGION, REPO, TABLE, PARAMETERS, Stack, deploy, report

OLD_TEMPLATE = Path(__file__).with_name("fixtures") / "template-before-issue-13.yaml"
B = f"arn:aws:s3:::{BUCKET}"
T = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"


def allowed(policies, action, resource, **context) -> bool:
    return iam.evaluate(policies, iam.Call(action, resource, context)).allowed


# --------------------------------------------------------------------------------------------- the evaluator
def test_the_evaluator_follows_iam_evaluation_logic():
    doc = {"Statement": [
        {"Sid": "Objects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:Put*"], "Resource": f"{B}/jobs/*/qc/*"},
        {"Sid": "One", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{B}/jobs/?/x.json"},
        {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:*", "Resource": f"{B}/jobs/*/qc/secret*"},
        {"Sid": "List", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": B,
         "Condition": {"StringLike": {"s3:prefix": ["jobs/*", "uploads/drop/${aws:PrincipalTag/owner}/*"]}}},
        {"Sid": "NotList", "Effect": "Allow", "NotAction": ["s3:*", "dynamodb:Scan"], "Resource": T},
        {"Sid": "NotRes", "Effect": "Allow", "Action": "sqs:SendMessage", "NotResource": "arn:aws:sqs:*:*:private*"},
    ]}
    p = [doc]
    assert allowed(p, "s3:GetObject", f"{B}/jobs/j1/qc/matrix.parquet")
    assert allowed(p, "S3:putobject", f"{B}/jobs/j1/qc/deep/er"), "actions are case-insensitive, * crosses /"
    assert not allowed(p, "s3:GetObject", f"{B}/jobs/j1/de/results.parquet")
    assert not allowed(p, "s3:GetObject", f"{B.upper()}/jobs/j1/qc/x"), "resources are case-sensitive"
    assert allowed(p, "s3:GetObject", f"{B}/jobs/a/x.json") and not allowed(p, "s3:GetObject", f"{B}/jobs/ab/x.json")
    assert not allowed(p, "s3:GetObject", f"{B}/jobs/j1/qc/secret.txt"), "an explicit Deny wins over an Allow"
    assert allowed(p, "s3:ListBucket", B, **{"s3:prefix": "jobs/j1/"})
    assert not allowed(p, "s3:ListBucket", B), "a missing condition key fails a positive operator"
    assert not allowed(p, "s3:ListBucket", B, **{"s3:prefix": "uploads/"})
    assert allowed(p, "s3:ListBucket", B, **{"s3:prefix": "uploads/drop/lab7/x/", "aws:PrincipalTag/owner": "lab7"})
    assert not allowed(p, "s3:ListBucket", B, **{"s3:prefix": "uploads/drop/lab8/x/", "aws:PrincipalTag/owner": "lab7"})
    assert not allowed(p, "s3:ListBucket", B, **{"s3:prefix": "uploads/drop//x/"}), "a missing variable matches nothing"
    assert allowed(p, "dynamodb:GetItem", T) and not allowed(p, "dynamodb:Scan", T), "NotAction"
    assert not allowed(p, "dynamodb:GetItem", T + "/index/byOwner"), "an index is a resource of its own"
    assert allowed(p, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:public")
    assert not allowed(p, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:private-q"), "NotResource"
    assert not allowed([], "s3:GetObject", f"{B}/x"), "implicit deny"
    negated = [{"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": B,
                               "Condition": {"StringNotLike": {"s3:prefix": "private/*"}}}]}]
    assert allowed(negated, "s3:ListBucket", B), "a missing key makes a negated operator true"
    assert not allowed(negated, "s3:ListBucket", B, **{"s3:prefix": "private/a"})
    with pytest.raises(iam.UnsupportedCondition):
        allowed([{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                                 "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4"}}}]}], "s3:GetObject", "x")


def test_requests_are_described_as_aws_authorizes_them():
    def d(service, method, path, query=None, headers=None, body=b""):
        c = iam.describe(service, method, path, query or {}, headers or {}, body, REGION, ACCOUNT)
        return c.action, c.resource, c.context
    assert d("s3", "PUT", f"/{BUCKET}/uploads/api/j1/my%20file.txt") == ("s3:PutObject",
                                                                         f"{B}/uploads/api/j1/my file.txt", {})
    assert d("s3", "HEAD", f"/{BUCKET}/jobs/j1/summary.json")[0] == "s3:GetObject"
    assert d("s3", "GET", f"/{BUCKET}", {"list-type": "2", "prefix": "jobs/j1/"}) == (
        "s3:ListBucket", B, {"s3:prefix": "jobs/j1/"})
    assert d("s3", "GET", f"/{BUCKET}/k", {"acl": ""})[0].startswith("s3:Unmapped"), "unknown calls fail closed"
    target = {"x-amz-target": "DynamoDB_20120810.Query"}
    assert d("dynamodb", "POST", "/", headers=target, body=b'{"TableName": "t", "IndexName": "byOwner"}')[:2] == (
        "dynamodb:Query", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t/index/byOwner")
    sm = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:proteo-jobs"
    assert d("states", "POST", "/", headers={"x-amz-target": "AWSStepFunctions.StartExecution"},
             body=('{"stateMachineArn": "%s"}' % sm).encode())[:2] == ("states:StartExecution", sm)
    assert d("lambda", "POST", "/2015-03-31/functions/qc/invocations")[:2] == (
        "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:qc")


# ---------------------------------------------------------------------------------------------- the template
def test_every_role_is_least_privilege(deployment):
    """No action `*` or `<service>:*`, no resource `*`; S3 object grants name a folder of the layout; DynamoDB only
    the table or its owner index. The closing note's table of grants is printed."""
    lines = []
    for name, principal in deployment.principals().items():
        for effect, action, resources, condition in iam.grants(principal["policies"]):
            assert effect == "Allow", (name, action)
            assert action != "*" and not action.endswith(":*"), f"{name}: {action}"
            for r in resources:
                assert r != "*" and not r.endswith(":*"), f"{name}: {action} on {r}"
                if action.startswith("s3:") and "/" in r.split(":::", 1)[1]:
                    key = r.split(":::", 1)[1].split("/", 1)[1]
                    assert key.startswith(("jobs/*/", "uploads/")), f"{name}: {action} on {r}"
                if action.startswith("dynamodb:"):
                    assert r in (T, T + "/index/byOwner"), f"{name}: {action} on {r}"
            if action == "s3:ListBucket":
                assert condition.get("StringLike", {}).get("s3:prefix"), f"{name}: ListBucket without a prefix"
            shown = ", ".join(r.replace(B, "bucket").replace(T, "table")
                              .replace(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:", "function:")
                              .replace(f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:", "stateMachine:")
                              for r in resources)
            cond = f" if s3:prefix like {condition['StringLike']['s3:prefix']}" if condition else ""
            lines.append(f"  {name:<12} {action:<24} {shown}{cond}")
    report("[iam] grants per role after the SAM transform:\n" + "\n".join(lines))
    assert not any("dynamodb:Scan" in line for line in lines), "GET /jobs queries the owner index, never scans"


# The job's tail (summary, report, listing) was the pathway function's in the template before issue 13; since
# issue 15 the report function does it.
OLD_ROLE = {"report": "pathway"}


def test_the_template_before_issue_13_denies_what_every_job_does(deployment):
    """The failing assertions of the old template: the pathway stage could not write report.html nor list the job's
    prefix, and the API could not read report.html (its link answered 403). Today's template allows them (the
    report function writes and lists since issue 15)."""
    old = deploy(OLD_TEMPLATE, {k: v for k, v in PARAMETERS.items() if k == "StageConcurrency"}).principals()
    new = deployment.principals()
    job = "0b1e7c2a-5f8e-4b7a-9a51-2e0f3c4d5e6f"
    calls = [
        ("report", "s3:PutObject", f"{B}/jobs/{job}/report.html", {}),
        ("report", "s3:ListBucket", B, {"s3:prefix": f"jobs/{job}/"}),
        ("api", "s3:GetObject", f"{B}/jobs/{job}/report.html", {}),
    ]
    for fn, action, resource, context in calls:
        was = OLD_ROLE.get(fn, fn)
        assert not allowed(old[was]["policies"], action, resource, **context), f"old {was} {action} {resource}"
        assert allowed(new[fn]["policies"], action, resource, **context), f"new {fn} {action} {resource}"
    assert allowed(old["api"]["policies"], "dynamodb:Scan", T) and not allowed(new["api"]["policies"],
                                                                                "dynamodb:Scan", T)


# ----------------------------------------------------------------------------------------- the session's calls
def test_every_call_the_jobs_made_was_allowed_and_checked_at_resource_level(stack: Stack, deployment):
    calls = [c for c in stack.calls() if c["principal"] not in ("harness", None)]
    if not any(c["principal"] == "report" for c in calls):
        pytest.skip("no job ran in this session (run the whole tests/cloud suite)")
    denied = [c for c in calls if not c["allowed"]]
    assert not denied, f"{len(denied)} calls denied under infra/template.yaml, e.g. {denied[:5]}"
    assert not [c for c in calls if ":Unmapped" in c["action"]], "every call maps to an IAM action"
    by_principal = {}
    for c in calls:
        by_principal.setdefault(c["principal"], set()).add(c["action"])
    assert {"s3:GetObject", "s3:PutObject", "dynamodb:UpdateItem", "dynamodb:PutItem",
            "states:StartExecution"} <= by_principal["ingest"]
    assert {"s3:GetObject", "s3:PutObject", "dynamodb:UpdateItem"} <= by_principal["pathway"]
    assert "s3:ListBucket" not in by_principal["pathway"], "the job's tail is the report function's"
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "dynamodb:UpdateItem"} <= by_principal["report"]
    read = {c["resource"].split("/", 2)[-1] for c in calls if c["principal"] == "report" and c["action"] == "s3:GetObject"}
    assert not any(k.endswith("ingest/table.parquet") for k in read), "the report never reads the raw input"
    assert {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "s3:PutObject"} <= by_principal["api"]
    # The state machine's own calls, made by moto's interpreter under its role.
    sm = [c for c in calls if c["principal"] == "statemachine"]
    assert {c["resource"].rsplit(":", 1)[1] for c in sm if c["action"] == "lambda:InvokeFunction"} == {
        "quant", "qc", "de", "pathway", "report"}
    assert {c["resource"] for c in sm if c["action"] == "dynamodb:UpdateItem"} == {T}
    # The Distributed Map's ItemReader and ResultWriter, under the state machine's role too; its children read
    # shards and write results under theirs.
    assert any(c["action"] == "s3:GetObject" and c["resource"].endswith("/ingest/quant/manifest.json") for c in sm)
    assert any(c["action"] == "s3:PutObject" and "/ingest/quant/map/" in c["resource"] for c in sm)
    assert {"s3:GetObject", "s3:PutObject"} <= by_principal["quant"]

    # Replayed under the template before issue 13, the same calls break every job.
    old = deploy(OLD_TEMPLATE, {"StageConcurrency": "1"}).principals()
    refused = {}
    for c in calls:
        was = OLD_ROLE.get(c["principal"], c["principal"])
        if was in old and was != "lab":
            if not iam.evaluate(old[was]["policies"], iam.Call(c["action"], c["resource"], c["context"])).allowed:
                refused.setdefault(c["principal"], set()).add((c["action"], c["resource"].split("/")[-1]))
    assert ("s3:PutObject", "report.html") in refused["report"], refused.get("report")
    assert any(a == "s3:ListBucket" for a, _ in refused["report"]), refused.get("report")
    lines = [f"  {p}: {len(v)} distinct calls refused, e.g. {sorted(v)[:3]}" for p, v in sorted(refused.items())]
    report(f"[iam] {len(calls)} calls by the functions and the state machine, all allowed at resource level; "
           f"replayed under the template before issue 13:\n" + "\n".join(lines))


def _denied(call) -> bool:
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")
    return False


def test_each_role_is_refused_outside_its_grant(stack: Stack):
    """Live probes with each function's credentials: what the role may not do is answered AccessDenied."""
    s3 = {n: stack.client_as(n, "s3") for n in ("api", "ingest", "quant", "qc", "de", "pathway", "report", "lab")}
    ddb = {n: stack.client_as(n, "dynamodb") for n in ("api", "qc")}
    key = "jobs/0b1e7c2a-5f8e-4b7a-9a51-2e0f3c4d5e6f/"
    probes = {
        "qc reads an upload": lambda: s3["qc"].get_object(Bucket=BUCKET, Key="uploads/api/x/proteinGroups.txt"),
        "qc writes DE results": lambda: s3["qc"].put_object(Bucket=BUCKET, Key=key + "de/results.parquet", Body=b"x"),
        "de writes a report": lambda: s3["de"].put_object(Bucket=BUCKET, Key=key + "report.html", Body=b"x"),
        "pathway reads an upload": lambda: s3["pathway"].get_object(Bucket=BUCKET, Key="uploads/drop/a/b/c.txt"),
        "pathway lists uploads": lambda: s3["pathway"].list_objects_v2(Bucket=BUCKET, Prefix="uploads/"),
        "pathway writes a report": lambda: s3["pathway"].put_object(Bucket=BUCKET, Key=key + "report.html", Body=b"x"),
        "pathway writes the summary": lambda: s3["pathway"].put_object(Bucket=BUCKET, Key=key + "summary.json",
                                                                      Body=b"x"),
        "pathway lists a job": lambda: s3["pathway"].list_objects_v2(Bucket=BUCKET, Prefix=key),
        "report reads the raw input": lambda: s3["report"].get_object(Bucket=BUCKET, Key=key + "ingest/table.parquet"),
        "report reads an upload": lambda: s3["report"].get_object(Bucket=BUCKET, Key="uploads/api/x/proteinGroups.txt"),
        "report writes QC output": lambda: s3["report"].put_object(Bucket=BUCKET, Key=key + "qc/matrix.parquet",
                                                                  Body=b"x"),
        "report lists uploads": lambda: s3["report"].list_objects_v2(Bucket=BUCKET, Prefix="uploads/"),
        "ingest writes QC output": lambda: s3["ingest"].put_object(Bucket=BUCKET, Key=key + "qc/m.parquet", Body=b"x"),
        "ingest lists the bucket": lambda: s3["ingest"].list_objects_v2(Bucket=BUCKET),
        "quant reads an upload": lambda: s3["quant"].get_object(Bucket=BUCKET, Key="uploads/api/x/report.parquet"),
        "quant writes QC output": lambda: s3["quant"].put_object(Bucket=BUCKET, Key=key + "qc/m.parquet", Body=b"x"),
        "api reads an upload": lambda: s3["api"].get_object(Bucket=BUCKET, Key="uploads/api/x/proteinGroups.txt"),
        "api reads ingest tables": lambda: s3["api"].get_object(Bucket=BUCKET, Key=key + "ingest/table.parquet"),
        "api scans the table": lambda: ddb["api"].scan(TableName=TABLE),
        "api updates an item": lambda: ddb["api"].update_item(TableName=TABLE, Key={"jobId": {"S": "x"}},
                                                              UpdateExpression="SET progress = :p",
                                                              ExpressionAttributeValues={":p": {"N": "1"}}),
        "qc reads an item": lambda: ddb["qc"].get_item(TableName=TABLE, Key={"jobId": {"S": "x"}}),
        "lab writes another owner's folder": lambda: s3["lab"].put_object(
            Bucket=BUCKET, Key="uploads/drop/someone-else/x/data.txt", Body=b"x"),
        "lab reads its own upload": lambda: s3["lab"].get_object(Bucket=BUCKET, Key="uploads/drop/x/y/z.txt"),
    }
    for what, probe in probes.items():
        assert _denied(probe), f"{what}: not refused"
    stack.sfn.meta  # the harness's own client is not a principal under test
    sfn_qc = stack.client_as("qc", "stepfunctions")
    assert _denied(lambda: sfn_qc.start_execution(stateMachineArn=stack.state_machine_arn, name="probe", input="{}"))
    owner = stack.sub("alice")
    s3["lab"].put_object(Bucket=BUCKET, Key=f"uploads/drop/{owner}/probe/.keep", Body=b"")  # its own folder: allowed
    s3["lab"].list_objects_v2(Bucket=BUCKET, Prefix=f"uploads/drop/{owner}/probe/")
    assert _denied(lambda: s3["lab"].list_objects_v2(Bucket=BUCKET, Prefix="uploads/drop/"))
    report(f"[iam] {len(probes) + 2} probes outside the roles' grants: all AccessDenied")


def test_the_state_machine_role_invokes_only_the_stage_functions(deployment):
    policies = deployment.principals()["statemachine"]["policies"]
    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
    for name in ("quant", "qc", "de", "pathway", "report"):
        assert allowed(policies, "lambda:InvokeFunction", fn + name)
        assert allowed(policies, "lambda:InvokeFunction", fn + name + ":$LATEST")
    for name in ("api", "ingest"):
        assert not allowed(policies, "lambda:InvokeFunction", fn + name)
    assert allowed(policies, "dynamodb:UpdateItem", T) and not allowed(policies, "dynamodb:DeleteItem", T)
    assert not allowed(policies, "dynamodb:UpdateItem", T.replace(TABLE, "other"))
    job = "jobs/0b1e7c2a-5f8e-4b7a-9a51-2e0f3c4d5e6f/"
    assert allowed(policies, "s3:GetObject", f"{B}/{job}ingest/quant/manifest.json")
    assert not allowed(policies, "s3:GetObject", f"{B}/{job}ingest/quant/shards/00000.parquet"), "no shard data"
    assert allowed(policies, "s3:PutObject", f"{B}/{job}ingest/quant/map/run-1/manifest.json")
    assert not allowed(policies, "s3:PutObject", f"{B}/{job}ingest/table.parquet")


def test_the_drop_in_policy_confines_a_lab_to_its_own_folder(deployment):
    policies = [deployment.properties("DropInUploadPolicy")["PolicyDocument"]]
    lab = {"aws:PrincipalTag/proteo-owner": "lab-7"}
    assert allowed(policies, "s3:PutObject", f"{B}/uploads/drop/lab-7/exp 1/proteinGroups.txt", **lab)
    assert not allowed(policies, "s3:PutObject", f"{B}/uploads/drop/lab-8/exp 1/proteinGroups.txt", **lab)
    assert not allowed(policies, "s3:PutObject", f"{B}/uploads/drop/lab-7x/e/p.txt", **lab)
    assert not allowed(policies, "s3:PutObject", f"{B}/uploads/api/j/p.txt", **lab)
    assert not allowed(policies, "s3:PutObject", f"{B}/uploads/drop/lab-7/e/p.txt"), "untagged: nothing"
    assert allowed(policies, "s3:ListBucket", B, **{"s3:prefix": "uploads/drop/lab-7/exp 1/"}, **lab)
    assert not allowed(policies, "s3:ListBucket", B, **{"s3:prefix": "uploads/drop/"}, **lab)
    assert not allowed(policies, "s3:ListBucket", B, **lab)
    assert not allowed(policies, "s3:GetObject", f"{B}/uploads/drop/lab-7/exp 1/proteinGroups.txt", **lab)
    assert not allowed(policies, "s3:GetObject", f"{B}/jobs/j/report.html", **lab)


def test_docs_name_the_policies_the_template_grants():
    text = (REPO / "docs/cloud.md").read_text()
    for needle in ("uploads/api/", "uploads/drop/", "byOwner", "proteo-owner", "JitterStrategy"):
        assert needle in text, f"docs/cloud.md does not mention {needle}"
