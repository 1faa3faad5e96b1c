"""A small stand-in for the Google REST endpoints `lab preflight` reads, on a loopback port:
Compute Engine's projects.get and regions.get (quotas with metric, limit and usage) and
Service Usage's services:batchGet. It answers the way Google does when credentials are
wrong (401 UNAUTHENTICATED), a project does not exist (404) or the Compute Engine API is
disabled (403 PERMISSION_DENIED with an ErrorInfo of reason SERVICE_DISABLED). Enough to
drive the real google-cloud-compute and google-cloud-service-usage clients end to end."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import google.auth.credentials

TOKEN = "fake-token"
PROJECT = re.compile(r"/compute/v1/projects/([^/]+)")
REGION = re.compile(r"/compute/v1/projects/([^/]+)/regions/([^/]+)")
BATCH_GET = re.compile(r"/v1/projects/([^/]+)/services:batchGet")


class StaticToken(google.auth.credentials.CredentialsWithQuotaProject):
    """Credentials that always send the same bearer token (never refreshed), like user
    credentials from `gcloud auth application-default login`: no quota project of their own."""

    def __init__(self, token: str = TOKEN, quota_project_id: str | None = None):
        super().__init__()
        self.token = token
        self._quota_project_id = quota_project_id

    def refresh(self, request) -> None:  # a static token never changes
        pass

    def with_quota_project(self, quota_project_id):
        return StaticToken(self.token, quota_project_id)


def quota_list(quotas: dict[str, tuple[float, float]]) -> list[dict]:
    return [{"metric": metric, "limit": limit, "usage": usage}
            for metric, (limit, usage) in quotas.items()]


class FakeGoogleAPI:
    """Serve one project: its global quotas, the quotas of each region, its enabled APIs."""

    def __init__(self, project: str, global_quotas: dict[str, tuple[float, float]],
                 regional_quotas: dict[str, dict[str, tuple[float, float]]],
                 enabled: set[str], token: str = TOKEN):
        self.project = project
        self.global_quotas = global_quotas
        self.regional_quotas = regional_quotas
        self.enabled = set(enabled)
        self.token = token
        self.requests: list[str] = []
        self.quota_projects: set[str | None] = set()   # x-goog-user-project of each request
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):     # keep test output quiet
                pass

            def _send(self, code: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, code: int, status: str, message: str, details=()):
                self._send(code, {"error": {"code": code, "message": message,
                                            "status": status, "details": list(details)}})

            def do_GET(self):
                url = urlsplit(self.path)
                api.requests.append(url.path)
                api.quota_projects.add(self.headers.get("x-goog-user-project"))
                if self.headers.get("Authorization") != f"Bearer {api.token}":
                    self._error(401, "UNAUTHENTICATED", "Request had invalid authentication "
                                "credentials. Expected OAuth 2 access token, login cookie or "
                                "other valid authentication credential.")
                    return
                batch = BATCH_GET.fullmatch(url.path)
                region = REGION.fullmatch(url.path)
                project = PROJECT.fullmatch(url.path)
                asked = (batch or region or project)
                if asked is None:
                    self._error(404, "NOT_FOUND", f"no such path {url.path}")
                    return
                if asked.group(1) != api.project:
                    self._error(404, "NOT_FOUND", f"The resource 'projects/{asked.group(1)}' "
                                "was not found")
                    return
                if batch:
                    names = parse_qs(url.query).get("names", [])
                    self._send(200, {"services": [
                        {"name": name, "parent": f"projects/{api.project}",
                         "state": "ENABLED" if name.rsplit("/", 1)[-1] in api.enabled
                         else "DISABLED"} for name in names]})
                    return
                if "compute.googleapis.com" not in api.enabled:
                    self._error(403, "PERMISSION_DENIED", "Compute Engine API has not been used "
                                f"in project {api.project} before or it is disabled. Enable it "
                                "by visiting https://console.developers.google.com/apis/api/"
                                f"compute.googleapis.com/overview?project={api.project} then "
                                "retry.", [{
                                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                    "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
                                    "metadata": {"service": "compute.googleapis.com",
                                                 "consumer": f"projects/{api.project}"}}])
                    return
                if region:
                    name = region.group(2)
                    if name not in api.regional_quotas:
                        self._error(404, "NOT_FOUND", f"The resource 'projects/{api.project}/"
                                    f"regions/{name}' was not found")
                        return
                    self._send(200, {"kind": "compute#region", "name": name,
                                     "quotas": quota_list(api.regional_quotas[name])})
                    return
                self._send(200, {"kind": "compute#project", "name": api.project,
                                 "quotas": quota_list(api.global_quotas)})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeGoogleAPI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
