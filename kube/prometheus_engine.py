"""Prometheus' own engine over the twin's series.

Nothing here evaluates PromQL itself: the series the twin says each target exposes
(kube/prometheus_series.py) are handed to Prometheus' own binaries, from Debian's
`prometheus` package (`make install` unpacks it into the venv, venv/prometheus/usr/bin;
else `promtool` and `prometheus` on PATH):

- instant queries (`simulate --query`, the guide's promises): the series are written as
  OpenMetrics, backfilled into a TSDB with `promtool tsdb create-blocks-from openmetrics`,
  and a `prometheus` server runs on 127.0.0.1 (a free port) over that TSDB with the rule
  files loaded (so a rule it cannot parse fails here, as it would fail the operator's
  config reload); queries go to its HTTP API (/api/v1/query). Several stacks share one
  TSDB, each in its own time window WINDOW apart, so one server answers for all of them:
  a query at a stack's settled time sees its series only (they end there, and the next
  window starts hours later);
- alerts (`simulate --alerts`): `promtool test rules`, which runs Prometheus' rule manager
  over the series (every evaluation interval, `for:` pending and firing, ALERTS series
  that InfoInhibitor reads, templated labels). Each stack is a test group that expects no
  alert; promtool prints the alerts that do fire (cmd/promtool/unittest.go: `got:` with
  each alert's `Labels:{...}` in Go's quoting), and those are what fire on the stack.

The series span SPAN seconds at STEP (the chart's scrape interval): enough for every
rule's `for:` (the longest, KubeContainerWaiting, is 1h) and rate()/increase() windows.
The cluster is taken to have settled at the start of the span: what the twin shows has
been so for the whole span, and the stack's settled time is its end.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

import yaml

STEP = 30                      # seconds between samples
SPAN = 2 * 3600                # seconds of samples before the settled time
SAMPLES = SPAN // STEP + 1
EVALUATION_INTERVAL = "30s"    # prometheus-operator's default evaluationInterval
# 2026-01-01T00:00:00Z: the first window's start (any past time would do).
BASE = 1_767_225_600
WINDOW = 4 * 3600              # from one stack's window to the next's
START_TIMEOUT = 60.0           # seconds for the server to become ready
RUN_TIMEOUT = 300.0            # seconds for one promtool run
QUERY_TIMEOUT = 30.0


class EngineMissing(RuntimeError):
    """Prometheus' tools are not installed: `make install` puts them into the venv."""


class EngineError(RuntimeError):
    """Prometheus refused or failed: its own message."""


def tool(name: str) -> Path:
    """The path of `promtool` or `prometheus`: the venv's (make install), else PATH's."""
    project = Path(__file__).resolve().parent.parent
    for home in (Path(sys.prefix) / "prometheus", project / "venv" / "prometheus"):
        candidate = home / "usr" / "bin" / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise EngineMissing(f"{name} not found: run `make install` (it unpacks Debian's prometheus "
                        f"package into venv/prometheus), or put {name} on PATH")


# -- series ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    """One time series: its labels (__name__ among them) and a value per STEP over SPAN
    (None: no sample at that step)."""
    labels: tuple[tuple[str, str], ...]
    values: tuple[Optional[float], ...]

    @staticmethod
    def of(name: str, labels: Mapping[str, str], values) -> "Series":
        """values: a number (the same all along), or one value (or None) per sample."""
        if isinstance(values, (int, float)):
            values = (float(values),) * SAMPLES
        values = tuple(None if v is None else float(v) for v in values)
        if len(values) != SAMPLES:
            raise ValueError(f"{name}: {len(values)} samples, not {SAMPLES}")
        kept = {k: str(v) for k, v in labels.items() if v not in (None, "")}
        return Series((("__name__", name), *sorted(kept.items())), values)

    @property
    def name(self) -> str:
        return self.labels[0][1]

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


def counter(rate_per_second: float, start: float = 0.0) -> tuple[float, ...]:
    """A counter that grows at this rate over the span."""
    return tuple(start + rate_per_second * STEP * i for i in range(SAMPLES))


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _selector(labels: Sequence[tuple[str, str]]) -> str:
    name = labels[0][1]
    rest = ",".join(f'{k}="{_quote(v)}"' for k, v in labels[1:])
    return f"{name}{{{rest}}}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def openmetrics(windows: Sequence[Sequence[Series]]) -> str:
    """The series of every window as one OpenMetrics text, each window starting WINDOW
    after the previous one."""
    by_name: dict[str, list[tuple[int, Series]]] = {}
    for index, series in enumerate(windows):
        for one in series:
            by_name.setdefault(one.name, []).append((index, one))
    lines = []
    for name in sorted(by_name):
        for index, one in by_name[name]:
            start = BASE + index * WINDOW
            head = _selector(one.labels)
            lines += [f"{head} {_number(v)} {start + i * STEP}"
                      for i, v in enumerate(one.values) if v is not None]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def notation(values: Sequence[Optional[float]]) -> str:
    """promtool's expanding notation for values at every interval: `a+bxn` runs, `_` gaps."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        if values[i] is None:
            j = i
            while j + 1 < len(values) and values[j + 1] is None:
                j += 1
            parts.append("_" if j == i else f"_x{j - i}")
            i = j + 1
            continue
        j = i
        step = None
        while j + 1 < len(values) and values[j + 1] is not None:
            delta = values[j + 1] - values[j]
            if step is None:
                step = delta
            elif not math.isclose(delta, step, rel_tol=1e-9, abs_tol=1e-9):
                break
            j += 1
        first = _number(values[i])
        if j == i:
            parts.append(first)
        else:
            slope = _number(step)
            parts.append(f"{first}{'' if slope.startswith('-') else '+'}{slope}x{j - i}")
        i = j + 1
    return " ".join(parts)


# -- the server ----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(args: list, timeout: float = RUN_TIMEOUT, cwd: Optional[Path] = None
         ) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                              timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as err:
        raise EngineError(f"{Path(str(args[0])).name} {args[1]}: no answer in {timeout:.0f} s"
                          ) from err


class Prometheus:
    """A Prometheus server over the series of one or more stacks, one window each:

        with Prometheus({"dev": series, "pairing": others}, rule_files) as prom:
            prom.query("dev", "up == 0")
    """

    def __init__(self, stacks: Mapping[str, Sequence[Series]],
                 rule_files: Iterable[Path] = ()):
        self.windows = {key: index for index, key in enumerate(stacks)}
        self._stacks = stacks
        self._rule_files = [Path(f) for f in rule_files]
        self._dir: Optional[tempfile.TemporaryDirectory] = None
        self._process: Optional[subprocess.Popen] = None
        self.url = ""

    def settled_at(self, key: str) -> float:
        """The stack's settled time (its window's last sample), Unix seconds."""
        return BASE + self.windows[key] * WINDOW + SPAN

    def __enter__(self) -> "Prometheus":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        promtool, server = tool("promtool"), tool("prometheus")
        self._dir = tempfile.TemporaryDirectory(prefix="gpu-lab-prometheus-")
        root = Path(self._dir.name)
        try:
            data = root / "openmetrics.txt"
            data.write_text(openmetrics([self._stacks[k] for k in self.windows]))
            tsdb = root / "tsdb"
            done = _run([promtool, "tsdb", "create-blocks-from", "openmetrics", data, tsdb])
            if done.returncode != 0:
                raise EngineError(f"promtool tsdb create-blocks-from openmetrics: "
                                  f"{(done.stderr or done.stdout).strip()[-2000:]}")
            data.unlink()
            config = root / "prometheus.yml"
            config.write_text(yaml.safe_dump({
                "global": {"scrape_interval": f"{STEP}s",
                           "evaluation_interval": EVALUATION_INTERVAL},
                "rule_files": [str(f) for f in self._rule_files]}))
            port = _free_port()
            self.url = f"http://127.0.0.1:{port}"
            log = open(root / "prometheus.log", "w")
            self._process = subprocess.Popen(
                [str(server), f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
                 "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}",
                 "--web.enable-lifecycle", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            self._wait_ready(root / "prometheus.log")
        except BaseException:
            self.close()
            raise

    def _wait_ready(self, log: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EngineError(f"prometheus exited ({self._process.returncode}): "
                                  f"{log.read_text().strip()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise EngineError(f"prometheus not ready in {START_TIMEOUT:.0f} s: "
                          f"{log.read_text().strip()[-2000:]}")

    def close(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=10)
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def api(self, path: str, **params) -> dict:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=QUERY_TIMEOUT) as answer:
                body = json.load(answer)
        except urllib.error.HTTPError as err:
            body = json.loads(err.read() or b"{}")
            raise EngineError(body.get("error") or str(err)) from None
        if body.get("status") != "success":
            raise EngineError(body.get("error") or json.dumps(body))
        return body["data"]

    def query(self, key: str, expr: str) -> list[dict]:
        """The instant query at the stack's settled time: [{"metric": {...}, "value": x}]."""
        data = self.api("/api/v1/query", query=expr, time=self.settled_at(key))
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": float(data["result"][1])}]
        if data["resultType"] != "vector":
            raise EngineError(f"{expr}: a {data['resultType']}, not an instant vector")
        return sorted(({"metric": r["metric"], "value": float(r["value"][1])}
                       for r in data["result"]),
                      key=lambda r: sorted(r["metric"].items()))

    def rules(self) -> list[dict]:
        """The rule groups the server loaded, as its API gives them."""
        return self.api("/api/v1/rules")["groups"]


# -- the rule manager (promtool test rules) --------------------------------------------

_GROUP = re.compile(r"^\s*name: (.*),$")
_ALERTNAME = re.compile(r"^\s*alertname: (\S+), time: ")
_LABELS = re.compile(r"^\s*Labels:\{(.*)\}$")
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _unquote(value: str) -> str:
    return json.loads(f'"{value}"')


def parse_labels(text: str) -> dict[str, str]:
    """Go's labels.String() body (`a="1", b="x\\"y"`) as a dict."""
    return {m.group(1): _unquote(m.group(2)) for m in _PAIR.finditer(text)}


def test_rules(rule_groups: Sequence[dict], tests: Sequence[dict], workdir: Path
               ) -> subprocess.CompletedProcess:
    """`promtool test rules` over these rule groups and test groups (as promtool's unit
    test file has them)."""
    rules = workdir / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": list(rule_groups)}, sort_keys=False))
    file = workdir / "tests.yaml"
    file.write_text(yaml.safe_dump({"rule_files": [rules.name],
                                    "evaluation_interval": EVALUATION_INTERVAL,
                                    "tests": list(tests)}, sort_keys=False, width=1 << 30))
    return _run([tool("promtool"), "test", "rules", file.name], cwd=workdir)


def input_series(series: Sequence[Series]) -> list[dict]:
    return [{"series": _selector(s.labels), "values": notation(s.values)} for s in series]


def firing_alerts(rule_groups: Sequence[dict], stacks: Mapping[str, Sequence[Series]]
                  ) -> dict[str, list[dict]]:
    """{stack: [{"alert": name, "labels": {...}}]}: the alerts Prometheus' rule manager has
    firing at each stack's settled time."""
    names = sorted({r["alert"] for g in rule_groups for r in g.get("rules") or []
                    if "alert" in r})
    tests = [{"name": key, "interval": f"{STEP}s", "input_series": input_series(series),
              "alert_rule_test": [{"eval_time": f"{SPAN}s", "alertname": n, "exp_alerts": []}
                                  for n in names]}
             for key, series in stacks.items()]
    with tempfile.TemporaryDirectory(prefix="gpu-lab-rules-") as workdir:
        done = test_rules(rule_groups, tests, Path(workdir))
    output = done.stdout + done.stderr
    found: dict[str, list[dict]] = {key: [] for key in stacks}
    group = next(iter(stacks), None)
    alertname = None
    for line in output.splitlines():
        if (m := _GROUP.match(line)) and m.group(1) in found:
            group = m.group(1)
        elif m := _ALERTNAME.match(line):
            alertname = m.group(1)
        elif (m := _LABELS.match(line)) and group is not None and alertname:
            labels = parse_labels(m.group(1))
            found[group].append({"alert": labels.pop("alertname", alertname),
                                 "labels": labels})
    if done.returncode != 0 and not any(found.values()):
        raise EngineError(f"promtool test rules: {output.strip()[-3000:]}")
    for alerts in found.values():
        alerts.sort(key=lambda a: (a["alert"], sorted(a["labels"].items())))
    return found
