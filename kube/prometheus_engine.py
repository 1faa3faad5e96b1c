"""Prometheus' own engine over the twin's series.

Nothing here evaluates PromQL itself: the series the twin says each target exposes
(kube/prometheus_series.py) are handed to Prometheus' own code, `promtool test rules` from
Debian's `prometheus` package (`make install` unpacks it into the venv,
venv/prometheus/usr/bin; else `promtool` on PATH). Its unit-test runner loads the series in
its expanding notation (`1+0x140`), runs Prometheus' rule manager over them at every
evaluation interval (`for:` pending and firing, the ALERTS series InfoInhibitor reads,
templated labels) and evaluates instant queries with Prometheus' query engine (5m
lookback, the server's functions and operators). Each stack is one test group whose tests
cannot pass (no alert; for a query one sample labelled with the group's name, which cannot
be, so the failure says which group it is); promtool prints what it got instead
(cmd/promtool/unittest.go: for a query `got:` with each sample as `{labels} value`, for an
alert name `got:` with each firing alert's `Labels:{...}`, labels in Go's quoting), and that
is the answer. One run answers many
queries for many stacks.

The series span SPAN seconds at STEP (the chart's scrape interval): enough for every rule's
`for:` (the longest, KubeContainerWaiting, is 1h) and for range selectors up to 1h. The
cluster is taken to have settled at the start of the span: what the twin shows has been so
for the whole span, and the stack's settled time is its end (eval_time SPAN).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence


STEP = 30                      # seconds between samples
SPAN = 62 * 60                 # seconds of samples before the settled time
SAMPLES = SPAN // STEP + 1
EVALUATION_INTERVAL = "30s"    # prometheus-operator's default evaluationInterval
RUN_TIMEOUT = 300.0            # seconds for one promtool run


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


# -- promtool test rules -----------------------------------------------------------------

def _run(args: list, cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT, cwd=cwd)
    except subprocess.TimeoutExpired as err:
        raise EngineError(f"promtool {args[1]}: no answer in {RUN_TIMEOUT:.0f} s") from err


_GROUP = re.compile(r"^\s*name: (.*),$")
_ALERTNAME = re.compile(r"^\s*alertname: (\S+), time: ")
_LABELS = re.compile(r"^\s*Labels:\{(.*)\}$")
_EXPR = re.compile(r'^\s*expr: ("(?:[^"\\]|\\.)*"), time: [^,]*,(?: err: (.*))?$')
_GOT = re.compile(r"^\s*got: (.*)$")
# promtool names the test group of a failed alert test but not of a failed query: each query
# expects one sample that cannot be, labelled with its group, which the `exp:` line repeats.
SENTINEL = "gpu_lab_test_group"
_EXP_GROUP = re.compile(r'^\s*exp: \{' + SENTINEL + r'="((?:[^"\\]|\\.)*)"\}')
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_SAMPLE = re.compile(r'\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\} (\S+?)(?:, |$)')


def _unquote(value: str) -> str:
    """A Go-quoted string's body (strconv.Quote: JSON's escapes, and \\x.. for others)."""
    try:
        return json.loads(f'"{value}"')
    except ValueError:
        return value.encode("latin-1", "backslashreplace").decode("unicode_escape")


def parse_labels(text: str) -> dict[str, str]:
    """Go's labels.String() body (`a="1", b="x\\"y"`) as a dict."""
    return {m.group(1): _unquote(m.group(2)) for m in _PAIR.finditer(text)}


def parse_samples(text: str) -> list[dict]:
    """promtool's `got:` list of samples (`{labels} 1E+00, ...`; `nil`: none)."""
    if text.strip() == "nil":
        return []
    return [{"metric": parse_labels(m.group(1)), "value": float(m.group(2))}
            for m in _SAMPLE.finditer(text)]


def run_rule_tests(rule_groups: Sequence[dict], tests: Sequence[dict], workdir: Path
               ) -> subprocess.CompletedProcess:
    """`promtool test rules` over these rule groups and test groups (as promtool's unit
    test file has them)."""
    rule_files = []
    if rule_groups:
        rules = workdir / "rules.yaml"
        rules.write_text(json.dumps({"groups": list(rule_groups)}))    # YAML is JSON
        rule_files = [rules.name]
    file = workdir / "tests.yaml"
    file.write_text(json.dumps({"rule_files": rule_files,
                                "evaluation_interval": EVALUATION_INTERVAL,
                                "tests": list(tests)}))
    return _run([tool("promtool"), "test", "rules", file.name], cwd=workdir)


def input_series(series: Sequence[Series]) -> list[dict]:
    return [{"series": _selector(s.labels), "values": notation(s.values)} for s in series]


@dataclass
class Answers:
    """What Prometheus answered for one stack."""
    queries: dict[str, list[dict]] = field(default_factory=dict)   # expr -> samples
    alerts: list[dict] = field(default_factory=list)               # firing, with labels
    errors: dict[str, str] = field(default_factory=dict)           # expr -> Prometheus' error


def evaluate(stacks: Mapping[str, Sequence[Series]], queries: Sequence[str] = (),
             rule_groups: Sequence[dict] = (), alerts: bool = False) -> dict[str, Answers]:
    """Each query as an instant query at each stack's settled time and, with `alerts`, the
    alerts the rule groups have firing then: one promtool run for all of them."""
    names = sorted({r["alert"] for g in rule_groups for r in g.get("rules") or []
                    if "alert" in r}) if alerts else []
    at = f"{SPAN}s"
    tests = [{"name": key, "interval": f"{STEP}s", "input_series": input_series(series),
              "alert_rule_test": [{"eval_time": at, "alertname": n, "exp_alerts": []}
                                  for n in names],
              "promql_expr_test": [{"expr": q, "eval_time": at, "exp_samples": [
                  {"labels": f'{{{SENTINEL}="{_quote(key)}"}}', "value": 0}]}
                  for q in queries]}
             for key, series in stacks.items()]
    with tempfile.TemporaryDirectory(prefix="gpu-lab-promtool-") as workdir:
        done = run_rule_tests(rule_groups, tests, Path(workdir))
    output = done.stdout + done.stderr
    found = {key: Answers({q: [] for q in queries}) for key in stacks}
    group = next(iter(stacks), None)
    alertname = expr = None
    recognized = False
    for line in output.splitlines():
        if (m := _GROUP.match(line)) and m.group(1) in found:
            group, alertname, expr = m.group(1), None, None
        elif m := _ALERTNAME.match(line):
            alertname, expr, recognized = m.group(1), None, True
        elif m := _EXPR.match(line):
            expr, alertname, recognized = _unquote(m.group(1)[1:-1]), None, True
            if m.group(2) is not None:           # no group named: the same everywhere
                for answers in found.values():
                    answers.errors[expr] = m.group(2)
        elif (m := _EXP_GROUP.match(line)) and expr is not None:
            group = _unquote(m.group(1))
        elif (m := _LABELS.match(line)) and group in found and alertname:
            labels = parse_labels(m.group(1))
            found[group].alerts.append({"alert": labels.pop("alertname", alertname),
                                        "labels": labels})
        elif (m := _GOT.match(line)) and group in found and expr is not None:
            found[group].queries[expr] = parse_samples(m.group(1))
    if done.returncode != 0 and not recognized:
        raise EngineError(f"promtool test rules: {output.strip()[-3000:]}")
    for answers in found.values():
        answers.alerts.sort(key=lambda a: (a["alert"], sorted(a["labels"].items())))
        for samples in answers.queries.values():
            samples.sort(key=lambda s: sorted(s["metric"].items()))
    return found


def firing_alerts(rule_groups: Sequence[dict], stacks: Mapping[str, Sequence[Series]]
                  ) -> dict[str, list[dict]]:
    """{stack: [{"alert": name, "labels": {...}}]}: the alerts Prometheus' rule manager has
    firing at each stack's settled time."""
    return {key: answers.alerts
            for key, answers in evaluate(stacks, (), rule_groups, alerts=True).items()}


def query(stacks: Mapping[str, Sequence[Series]], expr: str,
          rule_groups: Sequence[dict] = ()) -> dict[str, list[dict]]:
    """{stack: [{"metric": {...}, "value": x}]}: the instant query at each settled time
    (with the rule groups loaded, so ALERTS answers too). Raises EngineError when
    Prometheus refuses the expression."""
    answers = evaluate(stacks, [expr], rule_groups)
    for one in answers.values():
        if expr in one.errors:
            raise EngineError(one.errors[expr])
    return {key: one.queries[expr] for key, one in answers.items()}
