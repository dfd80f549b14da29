"""scripts/smoke-aws's steps (tests/cloud/smoke.py) against the local stack: the same code a deployed stack is
checked with, here behind the harness's API Gateway, tokens and IAM."""

import smoke
from conftest import Stack, report


def test_the_smoke_steps_of_a_deployed_stack_pass_on_the_local_one(stack: Stack):
    api = smoke.Api(lambda method, path, token, body=None: stack.api(method, path, user=None, token=token or "",
                                                                     json=body))
    steps = []
    result = smoke.run(api, stack.idp.token("smoke-a"), stack.idp.token("smoke-b"), log=steps.append)
    assert result["parquetBytes"] > 0
    report(f"[smoke] scripts/smoke-aws's steps on the local stack: {'; '.join(steps)} ({result['seconds']} s)")
