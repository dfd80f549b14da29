"""IAM as AWS evaluates it, for the local-AWS harness: the template's roles after the SAM transform, and a policy
evaluator that checks every S3, DynamoDB, Step Functions and Lambda call at resource level.

Why our own evaluator: moto 5.2.5's server-side enforcement (`INITIAL_NO_AUTH_ACTION_COUNT`,
`moto/core/authorization.py` + `moto/iam/access_control.py`) passes a resource ARN only for S3 (bucket/key) and for
IAM/SQS/STS; DynamoDB, Step Functions and Lambda calls are checked against `"*"`, so a policy scoped to the wrong
table or function still passes. It evaluates `Condition` blocks only with the values a trust policy carries (none
for identity policies: `s3:prefix` is never set, so a ListBucket statement with a prefix condition is denied
whatever the prefix), does not substitute policy variables, and its Step Functions interpreter signs its Lambda and
DynamoDB calls with the fixed key `ak` that no IAM user has. The evaluator here implements the parts of the IAM
evaluation logic our template and the drop-in policy use: explicit Deny over Allow over implicit deny;
Action/NotAction, Resource/NotResource with `*`/`?` wildcards; policy variables (`${aws:PrincipalTag/…}`); the
String*, Arn*, Bool and Null condition operators with IfExists and ForAnyValue/ForAllValues, where a key missing from
the request makes a positive operator false and a negated one true (IAM User Guide, "Condition operators").
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"


# ---------------------------------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Call:
    """One authorization request: who asks to do what to which resource, with which condition keys."""
    action: str
    resource: str
    context: dict = field(default_factory=dict, hash=False, compare=False)

    def to_json(self) -> dict:
        return {"action": self.action, "resource": self.resource, "context": self.context}


def _listify(v) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def _substitute(pattern: str, context: dict) -> str | None:
    """Policy variables replaced from the request context; None when one is missing (the element cannot match)."""
    missing = False

    def repl(m):
        nonlocal missing
        name = m.group(1)
        if name in _ESCAPES:
            return "\0" + _ESCAPES[name]  # a literal, marked so that it is not a wildcard
        value = _lookup(context, name)
        if value is None or isinstance(value, list):
            missing = True
            return ""
        return value

    out = _VARIABLE.sub(repl, pattern)
    return None if missing else out


def _lookup(context: dict, key: str):
    """Condition keys are case-insensitive (tag values are not)."""
    for k, v in context.items():
        if k.lower() == key.lower():
            return v
    return None


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcards: `*` any run of characters (`/` and `:` included), `?` one character; `\\0x` a literal x."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\0" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch("".join(out), value, flags) is not None


def _element_matches(patterns: list, value: str, context: dict, ignore_case: bool) -> bool:
    for p in patterns:
        concrete = _substitute(p, context)
        if concrete is not None and _glob(concrete, value, ignore_case):
            return True
    return False


def _string_op(base: str):
    def like(p, v):
        return _glob(p, v)

    ops = {
        "StringEquals": lambda p, v: p == v,
        "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
        "StringLike": like,
        "ArnEquals": like,
        "ArnLike": like,
        "Bool": lambda p, v: p.lower() == str(v).lower(),
    }
    return ops.get(base)


_NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


class UnsupportedCondition(ValueError):
    pass


def _condition_holds(operator: str, key: str, expected: list, context: dict) -> bool:
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    actual = _lookup(context, key)
    if operator == "Null":
        want_absent = str(expected[0]).lower() == "true"
        return (actual is None) == want_absent
    negated = operator in _NEGATED
    base = _NEGATED.get(operator, operator)
    op = _string_op(base)
    if op is None:
        raise UnsupportedCondition(f"condition operator {operator!r} is not implemented by the harness evaluator")
    if actual is None:
        return True if (if_exists or negated) else False
    patterns = [p for p in (_substitute(str(e), context) for e in expected) if p is not None]
    values = _listify(actual)

    def one(v: str) -> bool:
        hit = any(op(p, str(v)) for p in patterns)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    return any(one(v) for v in values)  # ForAnyValue, and single-valued keys


def _element_holds(st: dict, name: str, value: str, context: dict, ignore_case: bool) -> bool:
    """`Action`/`Resource` must match, `NotAction`/`NotResource` must not; a statement without either matches nothing."""
    if name in st:
        return _element_matches(_listify(st[name]), value, context, ignore_case)
    if f"Not{name}" in st:
        return not _element_matches(_listify(st[f"Not{name}"]), value, context, ignore_case)
    return False


def _statement_applies(st: dict, call: Call) -> bool:
    context = call.context
    if not _element_holds(st, "Action", call.action, context, ignore_case=True):
        return False
    if not _element_holds(st, "Resource", call.resource, context, ignore_case=False):
        return False
    for operator, keys in (st.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, _listify(expected), context):
                return False
    return True


@dataclass
class Decision:
    allowed: bool
    reason: str  # "Allow <sid>", "explicit Deny <sid>", "no statement allows it"


def evaluate(policies: list[dict], call: Call) -> Decision:
    """The identity-policy part of IAM's evaluation logic (no SCPs, boundaries or resource policies)."""
    statements = [st for doc in policies for st in _listify(doc.get("Statement"))]
    for st in statements:
        if st.get("Effect") == "Deny" and _statement_applies(st, call):
            return Decision(False, f"explicit Deny {st.get('Sid', '')}".strip())
    for st in statements:
        if st.get("Effect") == "Allow" and _statement_applies(st, call):
            return Decision(True, f"Allow {st.get('Sid', '')}".strip())
    return Decision(False, "no statement allows it")


# ----------------------------------------------------------------------------------------- requests → calls
def access_key_of(headers: dict, query: dict) -> tuple[str | None, str | None]:
    """(access key id, service) from a SigV4 Authorization header or a presigned URL's X-Amz-Credential."""
    auth = headers.get("authorization", "")
    m = re.search(r"Credential=([^/,\s]+)/\d{8}/[^/]+/([^/]+)/aws4_request", auth)
    if m:
        return m.group(1), m.group(2)
    cred = query.get("X-Amz-Credential")
    if cred:
        parts = cred.split("/")
        if len(parts) >= 4:
            return parts[0], parts[3]
    return None, None


def describe(service: str, method: str, path: str, query: dict, headers: dict, body: bytes,
             region: str, account: str) -> Call:
    """The action and resource AWS authorizes for one HTTP request to S3 (path style), DynamoDB, Step Functions or
    Lambda; action `<service>:Unmapped…` for anything else (denied: the harness fails closed)."""
    if service == "s3":
        bucket, _, key = urllib.parse.unquote(path.lstrip("/")).partition("/")
        bucket_arn = f"arn:{PARTITION}:s3:::{bucket}"
        if key:
            object_arn = f"{bucket_arn}/{key}"
            if method in ("GET", "HEAD") and not set(query) & {"uploads", "uploadId", "acl", "tagging"}:
                return Call("s3:GetObject", object_arn)
            if method == "PUT" and not set(query) & {"acl", "tagging"}:
                return Call("s3:PutObject", object_arn)
            if method == "DELETE":
                return Call("s3:DeleteObject", object_arn)
            return Call(f"s3:Unmapped{method}Object", object_arn)
        if method == "GET" and not set(query) - {"list-type", "prefix", "delimiter", "continuation-token",
                                                  "max-keys", "start-after", "encoding-type", "fetch-owner", "x-id"}:
            context = {"s3:prefix": query["prefix"]} if "prefix" in query else {}
            return Call("s3:ListBucket", bucket_arn, context)
        if method == "PUT" and not query:
            return Call("s3:CreateBucket", bucket_arn)
        return Call(f"s3:Unmapped{method}Bucket", bucket_arn)
    target = headers.get("x-amz-target", "")
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        payload = {}
    if service == "dynamodb" and target.startswith("DynamoDB_"):
        op = target.split(".", 1)[1]
        resource = f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{payload.get('TableName', '')}"
        if payload.get("IndexName"):
            resource += f"/index/{payload['IndexName']}"
        return Call(f"dynamodb:{op}", resource)
    if service == "states" and target.startswith("AWSStepFunctions."):
        op = target.split(".", 1)[1]
        resource = payload.get("stateMachineArn") or payload.get("executionArn") or "*"
        return Call(f"states:{op}", resource)
    if service == "lambda":
        m = re.fullmatch(r"/2015-03-31/functions/([^/]+)/invocations", path)
        if m and method == "POST":
            name = urllib.parse.unquote(m.group(1))
            if not name.startswith("arn:"):
                name = f"arn:{PARTITION}:lambda:{region}:{account}:function:{name}"
            if query.get("Qualifier"):
                name += f":{query['Qualifier']}"
            return Call("lambda:InvokeFunction", name)
    return Call(f"{service}:Unmapped", path)


# ------------------------------------------------------------------------------------------ the template
class Names:
    """What the template's references resolve to in the harness (the stack `proteo` in moto's account)."""

    def __init__(self, region: str, account: str, stack: str, parameters: dict, physical: dict):
        self.region, self.account, self.stack = region, account, stack
        self.parameters = parameters
        self.physical = physical  # logical id -> {"Ref": value, "Arn": value, ...}

    def pseudo(self, name: str) -> str:
        return {"AWS::Partition": PARTITION, "AWS::Region": self.region, "AWS::AccountId": self.account,
                "AWS::StackName": self.stack, "AWS::URLSuffix": URL_SUFFIX}[name]


class Resolver:
    """CloudFormation intrinsic functions over a transformed template (Ref, GetAtt, Sub, Join, If, Equals, Select)."""

    def __init__(self, template: dict, names: Names):
        self.template, self.names = template, names
        self.conditions = {}
        for name, expr in (template.get("Conditions") or {}).items():
            self.conditions[name] = bool(self.resolve(expr))

    def ref(self, name: str):
        if name.startswith("AWS::"):
            return self.names.pseudo(name)
        if name in self.names.parameters:
            return self.names.parameters[name]
        if name in (self.template.get("Parameters") or {}):
            return self.template["Parameters"][name].get("Default")
        try:
            return self.names.physical[name]["Ref"]
        except KeyError:
            raise KeyError(f"the harness has no physical name for Ref {name}") from None

    def get_att(self, logical: str, attribute: str):
        try:
            return self.names.physical[logical][attribute]
        except KeyError:
            raise KeyError(f"the harness has no value for GetAtt {logical}.{attribute}") from None

    def sub(self, text: str, variables: dict) -> str:
        def repl(m):
            inner = m.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return str(variables[inner])
            if "." in inner and not inner.startswith("AWS::"):
                logical, attribute = inner.split(".", 1)
                return str(self.get_att(logical, attribute))
            return str(self.ref(inner))
        return re.sub(r"\$\{([^}]+)\}", repl, text)

    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attribute)
            if fn == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg
                    return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
                return self.sub(arg, {})
            if fn == "Fn::Join":
                sep, items = arg
                return sep.join(str(i) for i in self.resolve(items))
            if fn == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.conditions[cond] else no)
            if fn == "Fn::Equals":
                a, b = self.resolve(arg)
                return a == b
            if fn == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if fn == "Condition":
                return self.conditions[arg]
        return {k: self.resolve(v) for k, v in value.items()}


def sam_transform(template_path: Path) -> dict:  # noqa: D401
    """infra/template.yaml after the real SAM transform (samtranslator, offline), as `sam validate` runs it. Local
    CodeUri/DefinitionUri are what `sam build` replaces; stand-in S3 URIs let the transform run here. Metadata (the
    functions' BuildProperties) is kept; the pseudo-parameters take the region of AWS_DEFAULT_REGION (us-east-1)."""
    import os

    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:
        def load(self):
            return {}

    template = yaml_parse(template_path.read_text())
    for res in template["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["DefinitionUri"] = "s3://proteo-build-artifacts/statemachine.asl.json"
    template.get("Globals", {}).get("Function", {})["CodeUri"] = "s3://proteo-build-artifacts/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(template, {}, NoManagedPolicies(), passthrough_metadata=True)


def role_policies(template: dict, resolver: Resolver, role_logical_id: str) -> list[dict]:
    """The inline policy documents of a role, resolved (managed policy ARNs, e.g. the Lambda basic execution role for
    CloudWatch Logs, grant nothing on S3, DynamoDB, Step Functions or Lambda and are left out)."""
    role = template["Resources"][role_logical_id]
    assert role["Type"] == "AWS::IAM::Role", f"{role_logical_id} is a {role['Type']}, not a role"
    return [resolver.resolve(p["PolicyDocument"]) for p in role["Properties"].get("Policies", [])]


def role_of(template: dict, logical_id: str) -> str:
    """The logical id of the role a function or state machine runs as (`Role: !GetAtt <Role>.Arn`)."""
    props = template["Resources"][logical_id]["Properties"]
    role = props.get("Role") or props["RoleArn"]
    return role["Fn::GetAtt"][0] if isinstance(role["Fn::GetAtt"], list) else role["Fn::GetAtt"].split(".")[0]


def grants(policies: list[dict]) -> list[tuple[str, str, list[str], dict]]:
    """(effect, action, resources, condition) rows of the policies, one per action: the closing note's table."""
    rows = []
    for doc in policies:
        for st in _listify(doc.get("Statement")):
            for action in _listify(st.get("Action")):
                rows.append((st["Effect"], action, _listify(st.get("Resource")), st.get("Condition") or {}))
    return rows


def dump(template: dict) -> str:
    return json.dumps(template, indent=1, sort_keys=True, default=str)


__all__ = ["Call", "Decision", "evaluate", "describe", "access_key_of", "Names", "Resolver", "sam_transform",
           "role_policies", "role_of", "grants"]


if __name__ == "__main__":
    # `python tests/cloud/iam.py infra/template.yaml`: the transformed template as JSON (scripts/validate-infra).
    import sys

    print(dump(sam_transform(Path(sys.argv[1]))))
