"""Interview reports: the grading (verdicts, collateral, time to fix per fault), the scenario
and timings as JSON, next to the snapshot that was judged; kept locally and uploaded to any
S3-compatible store (AWS S3, GCS's S3-interoperable endpoint, MinIO).

Credentials and the endpoint come from the usual boto3 environment (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_ENDPOINT_URL, ...); --endpoint-url overrides.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence
from urllib.parse import urlparse

from faults import enabled
from lab.verify import FIXED, Verdict
from model.spec import LabSpec

REPORTS_DIR = Path("reports")


class ArchiveError(RuntimeError):
    """Why an upload failed; the local report is kept."""


def parse_s3_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ArchiveError(f"{url!r} is not an s3://BUCKET/PREFIX address")
    return parsed.netloc, parsed.path.strip("/")


def build_report(spec: LabSpec, verdicts: list[Verdict], started: datetime,
                 finished: datetime, collateral: Sequence[Any] = (), watch: Any = None,
                 source: str = "live") -> dict[str, Any]:
    """The report. `collateral`: what the changes broke (lab/grading.py Collateral);
    `watch`: the record of `lab verify --watch` (lab/grading.py Watch), whose times to fix
    (seconds from its first check) the report carries per fault."""
    times = watch.time_to_fix() if watch is not None else {}
    return {
        "stack": spec.stack,
        "scenario": spec.scenario,
        "platform": spec.platform,
        "cluster": spec.cluster.name,
        "source": source,
        "faults": [{"id": fault.id, "params": params} for fault, params in enabled(spec)],
        "verify": [v.to_json() for v in verdicts],
        "fixed": sum(v.status == FIXED for v in verdicts),
        "total": len(verdicts),
        "collateral": [c.to_json() for c in collateral],
        "time_to_fix": {
            "watch_started": watch.started if watch is not None else None,
            "checks": watch.checks if watch is not None else 0,
            "seconds": {v.fault: times.get(v.fault) for v in verdicts},
        },
        "timings": {
            "verify_started": started.astimezone(timezone.utc).isoformat(),
            "verify_finished": finished.astimezone(timezone.utc).isoformat(),
            "verify_seconds": round((finished - started).total_seconds(), 3),
            "expires_at": spec.expires_at,
        },
    }


def save_local(report: dict[str, Any], directory: Path = REPORTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = report["timings"]["verify_finished"].replace(":", "").replace("+0000", "Z")
    path = directory / f"{report['stack']}-{stamp[:17]}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def save_snapshot(report_path: Path, objects: list[dict], logs: dict,
                  taken: datetime) -> Path:
    """The judged state next to its report (<report>.snapshot.yaml): `lab verify --snapshot`
    grades it again."""
    from lab import snapshot
    return snapshot.write(report_path.with_name(report_path.stem + ".snapshot.yaml"),
                          objects, logs, taken)


def upload(path: Path, url: str, endpoint_url: Optional[str] = None,
           client: Any = None) -> str:
    """Upload the report file under s3://BUCKET/PREFIX/<file name>; returns the object URL."""
    import boto3
    from botocore.exceptions import (BotoCoreError, ClientError, EndpointConnectionError,
                                     NoCredentialsError)

    bucket, prefix = parse_s3_url(url)
    key = f"{prefix}/{path.name}" if prefix else path.name
    where = endpoint_url or "the default S3 endpoint"
    # A fresh session reads the environment as it is now (the default one caches it).
    s3 = client or boto3.session.Session().client("s3", endpoint_url=endpoint_url)
    try:
        # Reports are small: one PUT, whose errors come back as they are.
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(),
                      ContentType="application/json" if path.suffix == ".json"
                      else "application/yaml")
    except NoCredentialsError:
        raise ArchiveError("no credentials for the store: set AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)") from None
    except EndpointConnectionError as err:
        raise ArchiveError(f"cannot reach {where}: {err}") from None
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket", "404"):
            raise ArchiveError(f"bucket {bucket!r} does not exist at {where}") from None
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403",
                    "InvalidToken", "ExpiredToken"):
            raise ArchiveError(f"the store at {where} rejected the credentials ({code}): check "
                               f"AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY") from None
        raise ArchiveError(f"upload to s3://{bucket}/{key} failed: {code or err}") from None
    except BotoCoreError as err:
        raise ArchiveError(f"upload to s3://{bucket}/{key} failed: {err}") from None
    return f"s3://{bucket}/{key}"
