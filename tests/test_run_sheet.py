"""`gpu-lab guide` is a run sheet for the room: the exercise documents' parts in their order
(faults/parts.py), time boxes that sum to the pairing exercise's 90-120 minutes, the
handovers before the parts that need them, each fault once inside its part, and a scorecard
with a row per task and per fault; `gpu-lab report` fills the scorecard's measured lines
from a `gpu-lab verify --watch` record."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import yaml
from typer.testing import CliRunner

from faults import SCENARIOS, build_spec, enabled, parts
from kube.nodes import nodes_from_spec
from kube.objects import ObjectSet
from kube.twin import simulate
from lab import grading, snapshot
from lab.cli import app
from lab.guide import (BLANK, FAULT_MINUTES, _cell, candidate_tasks, interviewer_guide,
                       measure, recorded_applies, run_sheet, scorecard)
from lab.render import render
from lab.verify import FIXED, PRESENT, Verdict
from model.source import PROJECT_DIR
from tests.helpers import stack_values

SHIPPED = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                 for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
CASES = [f"stack:{s}" for s in SHIPPED] + [f"scenario:{s}" for s in sorted(SCENARIOS)]
ROW = re.compile(r"^\| (\d+:\d\d) \| (\d+) min \| ([^|]+) \|", re.MULTILINE)
LOW, HIGH = parts.SESSION_MINUTES
runner = CliRunner()


def spec_of(case: str):
    kind, _, name = case.partition(":")
    values = stack_values(name) if kind == "stack" else {
        "gcp:project": "gpu-lab-test", "gpu-lab:allowFaults": True, "gpu-lab:scenario": name}
    return build_spec(values, stack=name)


@pytest.fixture(scope="module", params=CASES)
def case(request):
    spec = spec_of(request.param)
    return SimpleNamespace(name=request.param, spec=spec, text=interviewer_guide(spec))


def expected_parts(spec) -> list[str]:
    """The parts a stack's guide must follow: its scenario's tasks' and its faults' parts;
    a healthy stack without a scenario, the pairing exercise's Parts 1-3."""
    scenario = SCENARIOS.get(spec.scenario or "")
    labels = {part for part, _, _ in (scenario.tasks if scenario else ())}
    labels |= {fault.part for fault, _ in enabled(spec)}
    if not scenario and not enabled(spec):
        labels = {parts.PAIRING_1, parts.PAIRING_2, parts.PAIRING_3}
    return [p.label for p in parts.PARTS if p.label in labels]


def part_headings(text: str) -> list[tuple[int, str]]:
    """(position, label) of each part's section heading, in the order they appear."""
    found = []
    for match in re.finditer(r"^## (.+?) \(\d+ min, ", text, re.MULTILINE):
        if match.group(1) in parts.BY_LABEL:
            found.append((match.start(), match.group(1)))
    return found


def section_end(text: str, start: int) -> int:
    following = text.find("\n## ", start + 1)
    return len(text) if following < 0 else following


# -- the parts, in the documents' order ---------------------------------------------------

def test_the_catalogue_of_parts_follows_the_documents():
    assert [p.label for p in parts.PARTS] == [
        parts.PAIRING_1, parts.PAIRING_2, parts.PAIRING_3, parts.PAIRING_4, parts.PAIRING_5,
        parts.SCENARIO_1, parts.SCENARIO_2, parts.SCENARIO_3, parts.SCENARIO_4,
        parts.SCENARIO_5, parts.SCENARIO_6, parts.SCENARIO_7, parts.SCENARIO_8]
    # 000's time boxes, as it gives them; 001 gives none.
    assert [p.minutes for p in parts.PARTS[:5]] == [(15, 15), (30, 40), (20, 30), (15, 20),
                                                     (15, 20)]
    assert all(p.minutes is None for p in parts.PARTS[5:])
    # every fault names a part of the documents, and so does every scenario task
    from faults import FAULTS
    assert {f.part for f in FAULTS.values()} <= set(parts.BY_LABEL)
    assert {t[0] for s in SCENARIOS.values() for t in s.tasks} <= set(parts.BY_LABEL)


def test_the_guide_follows_the_parts_in_the_documents_order(case):
    headings = [label for _, label in part_headings(case.text)]
    assert headings == expected_parts(case.spec), case.name
    # the run sheet's table lists them in the same order
    rows = [m.group(3).strip() for m in ROW.finditer(case.text)]
    assert [r for r in rows if r in parts.BY_LABEL] == headings
    assert rows[0].startswith("Opening") and rows[-1] == "Wrap-up"


def test_each_fault_appears_once_inside_its_part(case):
    sections = part_headings(case.text)
    scorecard_at = case.text.index("## Scorecard")
    body = case.text[:scorecard_at]
    for fault, params in enabled(case.spec):
        info = fault.describe(params, case.spec)
        heading = f"(`{fault.id}`)\n"
        assert body.count(heading) == 1, (case.name, fault.id)
        at = body.index(heading)
        [(start, label)] = [(s, l) for s, l in sections if s < at <= section_end(body, s)]
        assert label == fault.part, (case.name, fault.id, label)
        section = body[start:section_end(body, start)]
        for text in (info["task"], info["symptom"], info["fix"], info["look_for"]):
            assert text in section, (case.name, fault.id)
        # the hints, in order
        places = [section.index(f"{i}. {hint}") for i, hint in enumerate(info["hints"], 1)]
        assert places == sorted(places), (case.name, fault.id)


def test_time_boxes_are_present_and_fill_the_session(case):
    rows = ROW.findall(case.text)
    boxes = {label.strip(): int(minutes) for _, minutes, label in rows}
    assert set(expected_parts(case.spec)) <= set(boxes), case.name
    total = sum(boxes.values())
    assert LOW <= total <= HIGH, (case.name, total)
    assert f"{total} minutes (the pairing exercise runs {LOW}-{HIGH})" in case.text
    # each box starts where the one before ends
    at = 0
    for start, minutes, _ in rows:
        hours, mins = start.split(":")
        assert int(hours) * 60 + int(mins) == at, (case.name, start)
        at += int(minutes)
    # the part's section heading says the same box, and where it comes from
    for step in run_sheet(case.spec)[1:-1]:
        assert f"## {step.part.label} ({step.minutes} min, " in case.text
        assert f"*Time box: {step.source}.*" in case.text
        assert step.source


def test_the_pairing_exercise_keeps_the_documents_time_boxes():
    steps = run_sheet(spec_of("stack:pairing"))
    boxes = {s.part.label: (s.minutes, s.source) for s in steps if s.part}
    for part in parts.PARTS[:5]:
        minutes, source = boxes[part.label]
        assert minutes == part.minutes[0]
        assert source == f"the pairing exercise: {part.seed_minutes}"
    assert sum(s.minutes for s in steps) == 110


def test_time_boxes_gpu_lab_chose_say_so():
    """Where the documents give no time (the fault scenarios, the opening and the wrap-up), or
    a stack's parts cannot keep theirs, the guide says gpu-lab chose or stretched it."""
    failures = run_sheet(spec_of("scenario:workload-failures"))
    assert [s.minutes for s in failures[1:-1]] == [FAULT_MINUTES, 2 * FAULT_MINUTES,
                                                    FAULT_MINUTES]
    assert all(s.source.startswith("chosen") for s in failures)
    readiness = run_sheet(spec_of("scenario:gpu-readiness"))
    assert all(s.source.startswith("stretched from the pairing exercise's")
               for s in readiness[1:-1])
    crowded = run_sheet(spec_of("stack:all-faults"))
    assert sum(s.minutes for s in crowded) == HIGH
    assert any("fitted to the session" in s.source for s in crowded)


def test_handovers_come_before_the_parts_that_need_them(case):
    text = case.text
    sections = part_headings(text)
    first = sections[0][0]
    for what in ("**The cluster login:**", "**The candidate's brief:**"):
        assert text.count(what) == 1 and text.index(what) < first, (case.name, what)
    # The handout: before the first part whose tasks change the code or that holds a fault
    # (every fault is fixed in the code).
    faulty = {fault.part for fault, _ in enabled(case.spec)}
    needing = [at for at, label in sections
               if label in faulty or parts.BY_LABEL[label].changes_code]
    assert needing, case.name
    assert text.count("**The handout repository:**") == 1
    handout = text.index("**The handout repository:**")
    assert handout < needing[0], case.name
    # ... and not before a part that needs no code when a later one does
    earlier = [at for at, _ in sections if at < needing[0]]
    if earlier:
        assert handout > earlier[-1], case.name
    # the run sheet's table says when
    steps = run_sheet(case.spec)
    assert {"login", "brief"} <= set(steps[0].handover)


def test_the_brief_lists_its_tasks_in_the_run_sheets_order(case):
    order = [t for s in run_sheet(case.spec) for t in
             [task for _, task, _ in s.tasks] +
             [f.describe(p, case.spec)["task"] for f, p in s.faults]]
    brief = candidate_tasks(case.spec)
    assert [t for t in order if t in brief] == brief


def scorecard_rows(text: str) -> list[list[str]]:
    section = text[text.index("## Scorecard"):]
    rows = [line for line in section.splitlines() if re.match(r"^\| \d+ \|", line)]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_the_scorecard_has_a_row_per_task_and_fault_with_its_rubric(case):
    rows = scorecard_rows(case.text)
    steps = run_sheet(case.spec)
    tasks = [(s.part.short, task, good) for s in steps for _, task, good in s.tasks]
    faults = [(s.part.short, f, p) for s in steps for f, p in s.faults]
    assert len(rows) == len(tasks) + len(faults) > 0, case.name
    assert [r[0] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
    for row, (short, task, good) in zip(rows, tasks):
        assert row[1:] == [short, f"task: {_cell(task)}", _cell(good), ""]
    for row, (short, fault, params) in zip(rows[len(tasks):], faults):
        info = fault.describe(params, case.spec)
        assert row[1] == short and f"`{fault.id}`" in row[2]
        assert row[3] == _cell(info["look_for"]) and row[4] == "", (case.name, fault.id)
    # the measured lines, blank until `gpu-lab report` fills them
    measured = case.text[case.text.index("### Measured"):]
    lines = [line for line in measured.splitlines() if line.startswith("- **")]
    labels = [line.split(":**")[0].removeprefix("- **") for line in lines]
    assert labels[0] == "Faults fixed" and labels[1].startswith("Time to fix")
    assert "Collateral" in labels and labels[-1].startswith("Applies")
    assert ("Part 2 (tenant-c, one GPU per tenant)" in labels) == \
        (grading.part2_task(case.spec) is not None), case.name
    assert all(line.endswith(f":** {BLANK}") for line in lines)


# -- the report fills the measured lines ----------------------------------------------------

def cluster(spec, objects: list[dict]) -> tuple[list[dict], dict]:
    """What `kubectl get -A -o yaml` would print of a state (pods as the twin runs them)."""
    objects = ObjectSet(objects)
    nodes = nodes_from_spec(spec, objects)
    pods, logs = snapshot.twin_objects(simulate(spec, objects, nodes), objects)
    shown = [o for o in objects.objects if o["kind"] not in ("HelmRelease", "GcpFirewall")]
    return shown + nodes + pods, logs


def without_leak(objects: list[dict]) -> list[dict]:
    """The candidate's fix of the RBAC leak (the guide's fix, as kubectl would leave it)."""
    return [o for o in objects if not (o["kind"] == "RoleBinding" and
                                       o["metadata"]["name"] == "dashboard-viewers")]


def test_report_fills_the_measured_lines_from_a_watched_verify(tmp_path, monkeypatch):
    from tests.fake_kube_api import FakeKubeAPI

    values = stack_values("pairing")
    stack_file = tmp_path / "Pulumi.pairing.yaml"
    stack_file.write_text(yaml.safe_dump({"config": values}))
    spec = build_spec(values, stack="pairing")
    rendered = render(values, stack="pairing").check_objects()
    reports = tmp_path / "reports"

    def watch(objects: list[dict]):
        shown, logs = cluster(spec, copy.deepcopy(objects))
        with FakeKubeAPI(shown, logs) as api:
            kubeconfig = tmp_path / "kubeconfig"
            kubeconfig.write_text(yaml.safe_dump(api.kubeconfig()))
            return runner.invoke(app, ["verify", "--config-file", str(stack_file),
                                       "--kubeconfig", str(kubeconfig), "--watch", "0",
                                       "--rounds", "1", "--output-dir", str(reports)])

    first = watch(rendered)
    assert first.exit_code == 1, first.output
    fixed_state = without_leak(rendered)
    second = watch(fixed_state)
    assert "rbac-cross-tenant-read: present -> fixed" in second.output, second.output
    record = json.loads(grading.watch_path(reports, "pairing").read_text())
    seconds = record["faults"]["rbac-cross-tenant-read"]["seconds_to_fix"]
    assert seconds is not None

    shown, logs = cluster(spec, fixed_state)
    judged = snapshot.write(tmp_path / "judged.yaml", shown, logs)
    # `gpu-lab apply`'s record, as the report reads it (lab/guide.py recorded_applies)
    applies = [{"time": "2026-01-01T10:20:00Z", "stack": "pairing", "result": "applied"},
               {"time": "2026-01-01T10:31:00Z", "stack": "pairing",
                "result": "refused: Pulumi.pairing.yaml: sets gpu-lab:faults"}]
    monkeypatch.setattr("lab.guide.recorded_applies",
                        lambda stack: applies if stack == "pairing" else None)
    result = runner.invoke(app, ["report", "--config-file", str(stack_file), "--snapshot",
                                 str(judged), "--output-dir", str(reports)])
    assert result.exit_code == 0, result.output
    [report_path] = reports.glob("pairing-*.json")
    report = json.loads(report_path.read_text())
    card = report_path.with_name(report_path.stem + ".scorecard.md").read_text()
    measured = report["scorecard"]
    minutes, rest = divmod(int(round(seconds)), 60)
    assert measured["faults fixed"].startswith("1 of 4: rbac-cross-tenant-read fixed; "
                                               "gpu-quota-ineffective present")
    assert measured["time to fix"].startswith(
        f"rbac-cross-tenant-read {minutes} min {rest:02d} s; gpu-quota-ineffective not fixed "
        f"while watched")
    assert f"{record['checks']} checks" in measured["time to fix"]
    assert measured["collateral"] == "none"
    assert measured["part 2"].startswith("not met (tenant-c-namespace not met")
    assert report["part2"]["status"] == "not met"
    assert measured["applies"] == ("2 asked for, 1 applied: 2026-01-01T10:20:00Z applied; "
                                   "2026-01-01T10:31:00Z refused: Pulumi.pairing.yaml: sets "
                                   "gpu-lab:faults")
    # the scorecard file: the guide's rows, its measured lines filled
    assert card.startswith("# gpu-lab scorecard: stack `pairing`")
    assert scorecard_rows(card) == scorecard_rows(interviewer_guide(spec))
    for key, label in (("faults fixed", "Faults fixed"), ("collateral", "Collateral"),
                       ("applies", "Applies (`gpu-lab apply`)"),
                       ("part 2", "Part 2 (tenant-c, one GPU per tenant)"),
                       ("time to fix", "Time to fix (from `venv/bin/gpu-lab verify pairing --watch`)")):
        assert f"- **{label}:** {measured[key]}\n" in card
    assert BLANK not in card


def test_measure_without_a_watch_and_with_collateral_and_applies(tmp_path, monkeypatch):
    spec = spec_of("stack:pairing")
    verdicts = [Verdict(f.id, f.id, FIXED if i == 0 else PRESENT, "")
                for i, (f, _) in enumerate(enabled(spec))]
    grade = grading.Grade(verdicts, [grading.Collateral("workload-removed",
                                                        "tenant-b/infer is scaled to zero")])
    found = measure(spec, grade)
    assert found["time to fix"] == "not measured: no `venv/bin/gpu-lab verify pairing --watch` record"
    assert found["collateral"] == "1: workload-removed: tenant-b/infer is scaled to zero"
    assert "part 2" not in found            # no Part 2 verdict in this grade
    started = datetime(2026, 1, 1, tzinfo=timezone.utc)
    watch = grading.Watch(stack="pairing", started=started.isoformat())
    watch.update(grade, started)                     # fixed at the first check
    assert "fixed before the watch began" in measure(spec, grade, watch)["time to fix"]
    later = grading.Watch(stack="pairing", started=started.isoformat())
    later.update(grading.Grade([Verdict(v.fault, v.title, PRESENT, "") for v in verdicts], []),
                 started)
    later.update(grade, started + timedelta(minutes=12, seconds=5))
    assert measure(spec, grade, later)["time to fix"].startswith(
        f"{verdicts[0].fault} 12 min 05 s; ")
    assert measure(spec, grade)["applies"].startswith("not recorded")
    from lab.apply import entry, record
    # what `gpu-lab apply` records is what the report reads
    monkeypatch.setattr("lab.apply.APPLIES_DIR", tmp_path)
    record("run-sheet", entry("run-sheet", tmp_path, None, None, "applied",
                              now=started + timedelta(minutes=30)))
    assert measure(spec, grade, applies=recorded_applies("run-sheet"))["applies"] == \
        "1 asked for, 1 applied: 2026-01-01T00:30:00Z applied"
    assert measure(spec, grade, applies=[])["applies"] == "0 (the candidate asked for none)"
    filled = scorecard(spec, found)
    assert "- **Collateral:** 1: workload-removed" in filled
