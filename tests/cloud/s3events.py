"""The `s3:ObjectCreated:Put` notification S3 sends to Lambda, as AWS shapes it (keys URL-encoded, `+` for space):
the harness's notifier delivers it after an upload, and tests redeliver it to check duplicates are harmless."""

import time
import urllib.parse
import uuid
from datetime import datetime, timezone


def s3_put_event(bucket: str, region: str, key: str, size: int, etag: str) -> dict:
    now = datetime.now(timezone.utc)
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAE2ETESTPRINCIPAL"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                             "x-amz-id-2": uuid.uuid4().hex + uuid.uuid4().hex},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "proteo-e2e-ingest",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3E2ETESTOWNER"},
                       "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": size,
                       "eTag": etag.strip('"'), "sequencer": f"{time.time_ns():X}"},
        },
    }]}
