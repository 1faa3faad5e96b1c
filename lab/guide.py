"""The interviewer's guide and the candidate's brief for a stack, as Markdown.

The interviewer's guide is a run sheet for the room: the exercise documents' parts in their
order (faults/parts.py), time-boxed to the pairing exercise's 90-120 minutes, what to hand
over when, each fault inside its part, and a scorecard whose measured lines `gpu-lab report`
fills."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from faults import SCENARIOS, enabled, left_out, parts
from faults.base import Fault
from kube.symptoms import CHECKS
from model.spec import LabSpec


def _addons(spec: LabSpec) -> str:
    return "Add-ons: " + ", ".join(filter(None, [
        "NVIDIA GPU Operator" if spec.platform == "gke" and spec.addons.gpu_operator.enabled
        else ("fake GPU operator" if spec.platform == "existing" else None),
        "kube-prometheus-stack (Prometheus, Grafana)" if spec.addons.monitoring.enabled
        else None])) + "."


def _cluster(spec: LabSpec) -> list[str]:
    if spec.platform != "gke":
        return [f"- An existing cluster (kubeconfig context "
                f"`{spec.cluster.kube_context or 'current'}`) with simulated GPUs."]
    project = f" (project `{spec.gcp.project}`)" if spec.gcp.project else ""
    return [f"- GKE cluster `{spec.cluster.name}` in `{spec.cluster.location}`{project}, "
            f"release channel {spec.cluster.release_channel.lower()}, Dataplane V2, "
            f"private nodes.",
            f"- CPU system pool `{spec.system_pool.name}`: {spec.system_pool.machine_type}, "
            f"{spec.system_pool.min_nodes}-{spec.system_pool.max_nodes} nodes."]


def _environment(spec: LabSpec) -> list[str]:
    lines = ["## Environment", "", *_cluster(spec)]
    lines += ["", "| GPU pool | accelerator | machine type | GPUs/node | nodes |", "|---|---|---|---|---|"]
    lines += [f"| {p.name} | {p.accelerator} ({p.gpu_memory_gb} GB) | {p.machine_type} | "
              f"{p.schedulable_gpus_per_node} | {p.min_nodes}-{p.max_nodes}"
              f"{' spot' if p.spot else ''} |" for p in spec.gpu_pools]
    lines += ["", "| tenant | team | GPU quota | priority class | developer group |",
              "|---|---|---|---|---|"]
    lines += [f"| {t.name} | {t.team} | {t.gpus} | {t.priority_class} | "
              f"{', '.join(t.developer_groups)} |" for t in spec.tenants]
    if spec.workloads:
        lines += ["", "| workload | kind | replicas x GPUs | pool |", "|---|---|---|---|"]
        lines += [f"| {w.tenant}/{w.name} | {w.kind} | {w.replicas} x {w.gpus} | {w.pool} |"
                  for w in spec.workloads]
    return lines + ["", _addons(spec), ""]


def _benign(spec: LabSpec) -> list[str]:
    """What differs between the stack's tenants and workloads on purpose and is not broken
    (faults/variation.py): the candidate may ask, and a fix that "corrects" it is collateral."""
    if not spec.dressing:
        return []
    return ["## Benign differences (not faults)", "",
            "Seeded by the stack's name, present with or without faults, so that diffing "
            "siblings in the handout does not point at the faults. None of these is broken; "
            "a candidate who chases one has misread the evidence.", "",
            *[f"- {line}" for line in spec.dressing], ""]


def _admin_login(spec: LabSpec) -> str:
    """How the interviewer reaches the cluster, from what the stack exports (components/lab.py):
    a GKE stack its admin `kubeconfig` (a secret); an existing cluster its `kubeContext`, a
    context of the interviewer's own kubeconfig."""
    if spec.platform == "gke":
        return ("pulumi stack output kubeconfig --show-secrets > kubeconfig; "
                "export KUBECONFIG=$PWD/kubeconfig")
    if spec.cluster.kube_context:
        return 'kubectl config use-context "$(pulumi stack output kubeContext)"'
    return "kubectl config current-context   # the stack uses your current context"


def _connect(spec: LabSpec, candidate: bool = False) -> list[str]:
    # The candidate gets the kubeconfig of their own login (`lab new` writes it); the
    # interviewer uses what the stack exports for its platform.
    login = ("export KUBECONFIG=$PWD/kubeconfig      # the kubeconfig you were given"
             if candidate else _admin_login(spec))
    # The candidate's login reaches Prometheus only (Grafana wants its admin credentials).
    grafana = [] if candidate else [
        "kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80"]
    return ["## Connecting", "",
            "```sh",
            login,
            "kubectl -n monitoring port-forward svc/kube-prometheus-stack-prometheus 9090",
            *grafana,
            "```", ""]


def _candidate_login(spec: LabSpec) -> list[str]:
    """What the candidate's login may do, how to ask what someone else may do (a
    SubjectAccessReview: the login impersonates no one), and where nvidia-smi runs."""
    tenant = spec.candidate_tenant or (spec.tenants[0].name if spec.tenants else "tenant-a")
    group = next((g for t in spec.tenants if t.name == tenant for g in t.developer_groups),
                 f"{tenant}-developers@example.com")
    return ["## Your login", "",
            "It reads the whole cluster, deploys Pods, Deployments and Jobs into the tenant "
            "namespaces (and execs, attaches and port-forwards there), and port-forwards to "
            "Prometheus. It reads no Secrets, changes no RBAC and acts as no one else. "
            "`kubectl auth can-i` answers for you; to ask what someone else may do, send the "
            "API server a SubjectAccessReview (the answer is `status.allowed`):", "",
            "```sh",
            "kubectl create -o yaml -f - <<EOF",
            "apiVersion: authorization.k8s.io/v1",
            "kind: SubjectAccessReview",
            "spec:",
            "  user: dev@example.com",
            f"  groups: [\"{group}\"]",
            f"  resourceAttributes: {{namespace: {tenant}, verb: create, resource: pods}}",
            "EOF",
            "```", "",
            "nvidia-smi runs where the GPUs are: in a pod that has a GPU, in a tenant "
            "namespace (a GPU pod of your own, or one of the tenant's):", "",
            "```sh",
            f"kubectl exec -n {tenant} <pod> -- nvidia-smi",
            "```", ""]


# -- the interviewer's guide: a run sheet for the room -------------------------------------

# Chosen by gpu-lab, where the exercise documents give no time (say so in the guide):
OPENING_MINUTES = 5       # hand over the login and the brief, the candidate reads it
WRAP_UP_MINUTES = 10      # the candidate's questions, the last verify, the scorecard
FAULT_MINUTES = 20        # per fault of a fault scenario (001 gives no time)
STEP_MINUTES = 5          # time boxes grow and shrink in steps of this
LEAST_MINUTES = 5         # no part gets less
HANDOVERS = {"login": "the cluster login", "brief": "the candidate's brief",
             "handout": "the handout repository"}
BLANK = "___"
# The scorecard's measured lines, in order: (key, label). `gpu-lab report` fills them.
MEASURED = (("faults fixed", "Faults fixed"),
            ("time to fix", "Time to fix (from `venv/bin/gpu-lab verify {stack} --watch`)"),
            ("collateral", "Collateral"),
            ("part 2", "Part 2 (tenant-c, one GPU per tenant)"),
            ("applies", "Applies (`gpu-lab apply`)"))


@dataclass
class Step:
    """One time box of the session: the opening, a part of the exercise, or the wrap-up."""
    kind: str                                   # opening | part | wrap-up
    title: str
    minutes: int
    source: str = ""                            # where its time box comes from
    part: Optional[parts.Part] = None
    tasks: list[tuple[str, str, str]] = field(default_factory=list)   # (part, task, good)
    faults: list[tuple[Fault, dict]] = field(default_factory=list)
    handover: list[str] = field(default_factory=list)   # HANDOVERS keys, given before it
    start: int = 0                              # minutes from the session's start

    @property
    def needs(self) -> set[str]:
        """What the candidate needs in hand for this part: their login and brief for any
        part; the handout when the part's tasks change the code or it holds a fault (every
        fault is fixed in the code)."""
        if self.kind != "part":
            return set()
        code = bool(self.faults) or (self.part is not None and self.part.changes_code)
        return {"login", "brief"} | ({"handout"} if code else set())


def _part(label: str) -> parts.Part:
    return parts.BY_LABEL.get(label) or parts.Part(label, "", label, None, "", (), (), True)


def exercise_tasks(spec: LabSpec) -> list[tuple[str, str, str]]:
    """The exercise tasks that are not faults, as (part, task, what good looks like): the
    scenario's; for a healthy stack without a scenario, the pairing exercise's parts that
    need no fault baked in (Parts 1-3), each part's tasks and rubric as the document says."""
    scenario = SCENARIOS.get(spec.scenario or "")
    if scenario:
        return list(scenario.tasks)
    if enabled(spec):
        return []
    return [(p.label, " ".join(f"({i}) {t}" for i, t in enumerate(p.tasks, 1)),
             " ".join(p.look_for)) for p in parts.PARTS[:3]]


def _fit(steps: list[Step]) -> None:
    """Time boxes that sum to the session's length (000: 90-120 minutes), opening and wrap-up
    included: each part starts from its document's time box (the low end) or, where the
    document gives none, FAULT_MINUTES per fault; a session short of 90 minutes grows the
    parts within their document's range first, then the parts with the least time per task
    or fault; one over 120 shrinks the parts with the most time per task or fault, those
    whose time gpu-lab chose first."""
    low, high = parts.SESSION_MINUTES
    items = [s for s in steps if s.kind == "part"]
    load = {id(s): max(1, len(s.tasks) + len(s.faults)) for s in items}

    def total() -> int:
        return sum(s.minutes for s in steps)

    def per_item(s: Step) -> float:
        return s.minutes / load[id(s)]

    while total() < low and items:
        within = [s for s in items if s.part.minutes and s.minutes + STEP_MINUTES <=
                  s.part.minutes[1]]
        chosen = [s for s in items if not s.part.minutes]
        grow = min(within or chosen or items, key=per_item)
        grow.minutes += STEP_MINUTES
    while total() > high:
        shrinkable = [s for s in items if s.minutes - STEP_MINUTES >= LEAST_MINUTES]
        if not shrinkable:
            break
        chosen = [s for s in shrinkable if not s.part.minutes]
        within = [s for s in shrinkable if s.part.minutes and s.minutes - STEP_MINUTES >=
                  s.part.minutes[0]]
        shrink = max(chosen or within or shrinkable, key=per_item)
        shrink.minutes -= STEP_MINUTES
    for s in items:
        s.source = _time_source(s, low)


def _time_source(step: Step, session: int) -> str:
    part = step.part
    if part.minutes is None:
        fitted = step.minutes != FAULT_MINUTES * max(1, len(step.faults))
        return (f"chosen ({part.document or 'its document'} give no time): " +
                ("fitted to the session" if fitted else f"{FAULT_MINUTES} min per fault"))
    low, high = part.minutes
    if low <= step.minutes <= high:
        return f"{part.document}: {part.seed_minutes}"
    if step.minutes > high:
        return (f"stretched from {part.document}'s {part.seed_minutes}: this stack's parts "
                f"alone do not fill the {session}-minute session")
    return (f"shortened from {part.document}'s {part.seed_minutes}: this stack's parts do not "
            f"fit {parts.SESSION_MINUTES[1]} minutes otherwise")


def run_sheet(spec: LabSpec) -> list[Step]:
    """The session: the opening, the parts the stack's tasks and faults come from in the
    documents' order (each with its tasks and faults), and the wrap-up, timed; each
    handover placed before the first part that needs it."""
    tasks = exercise_tasks(spec)
    faults = enabled(spec)
    labels = sorted({label for label, _, _ in tasks} | {f.part for f, _ in faults},
                    key=parts.order)
    steps = [Step("opening", "Opening", OPENING_MINUTES,
                  "chosen: the documents give no time for it")]
    for label in labels:
        part = _part(label)
        in_part = [f for f in faults if f[0].part == label]
        steps.append(Step("part", part.label, part.minutes[0] if part.minutes else
                          FAULT_MINUTES * max(1, len(in_part)), part=part,
                          tasks=[t for t in tasks if t[0] == label], faults=in_part))
    steps.append(Step("wrap-up", "Wrap-up", WRAP_UP_MINUTES,
                      "chosen: the documents give no time for it"))
    _fit(steps)
    given: set[str] = set()
    for step in steps[1:]:
        missing = [key for key in HANDOVERS if key in step.needs and key not in given]
        (steps[0] if step is steps[1] else step).handover += missing
        given.update(missing)
    at = 0
    for step in steps:
        step.start, at = at, at + step.minutes
    return steps


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _handover(spec: LabSpec, key: str) -> str:
    """One thing to hand over, and how to make it."""
    stack = spec.stack
    if key == "login":
        start = f"namespace {spec.candidate_tenant}" if spec.candidate_tenant else \
            "the namespace its `--tenant` named"
        if spec.candidate_login and spec.platform == "existing":
            start = f"namespace {spec.candidate_tenant or 'gpu-lab-candidate'}"
            how = (f"`candidates/{stack}/kubeconfig`, which `venv/bin/gpu-lab login {stack}` "
                   f"writes once the stack is up on your cluster (ServiceAccount "
                   f"gpu-lab-candidate/candidate, starting in {start}; valid for its `--hours`; "
                   f"run it again for a new one).")
        elif spec.candidate_login:
            how = (f"`candidates/{stack}/kubeconfig`, the kubeconfig "
                   f"`venv/bin/gpu-lab new {stack}` wrote for the candidate's login "
                   f"(ServiceAccount "
                   f"gpu-lab-candidate/candidate, starting in {start}; valid for its "
                   f"`--hours`, and `venv/bin/gpu-lab reset {stack}` writes a new one).")
        else:
            how = ("this stack makes no candidate login (`gpu-lab:candidate.login` is off; "
                   "`gpu-lab new` turns it on): give them a kubeconfig of your own making.")
        return f"**The cluster login:** {how} They check it with `kubectl get nodes`."
    if key == "brief":
        return (f"**The candidate's brief:** `venv/bin/gpu-lab guide --stack {stack} "
                f"--candidate -o "
                f"brief.md` (the environment, how to connect, their login, the code and the "
                f"tasks; nothing of this page).")
    return (f"**The handout repository:** `venv/bin/gpu-lab handout --stack {stack} -o "
            f"handout-{stack}`, a git repository of one commit: the program and the stack's "
            f"config, its README.md the brief. The candidate commits a change and asks for an "
            f"apply: "
            f"`venv/bin/gpu-lab verify {stack} --handout handout-{stack}` grades it offline "
            f"(faults fixed, collateral), `venv/bin/gpu-lab apply {stack} --handout "
            f"handout-{stack}` shows you "
            f"both the preview and applies it once you confirm (each apply is recorded for "
            f"the scorecard).")


def _handover_lines(spec: LabSpec, keys: list[str], heading: str) -> list[str]:
    if not keys:
        return []
    lines = [heading, ""]
    for i, key in enumerate(keys, 1):
        lines.append(f"{i}. {_handover(spec, key)}")
    return lines + [""]


def _fault_lines(number: int, fault: Fault, info: dict, in_brief: str = "") -> list[str]:
    lines = [f"### Fault {number}. {info['title']} (`{fault.id}`)", "",
             f"- **Part:** {info['part']}",
             f"- **Layer:** {info['layer']}",
             f"- **The candidate is asked{in_brief}:** {info['task']}", "",
             "**What they should see:**", "", "```", info["symptom"], "```", "",
             "**Hints, in order:**", ""]
    lines += [f"{i}. {hint}" for i, hint in enumerate(info["hints"], 1)]
    return lines + ["", f"**The fix:** {info['fix']}", "",
                    f"**What to look for:** {info['look_for']}", "",
                    f"**Check:** {CHECKS[fault.check].question} (`gpu-lab verify` answers it "
                    f"against the live cluster.)", ""]


def _overview(spec: LabSpec, steps: list[Step]) -> list[str]:
    total = sum(s.minutes for s in steps)
    low, high = parts.SESSION_MINUTES
    lines = ["## Run sheet", "",
             f"{total} minutes (the pairing exercise runs {low}-{high}): the parts this "
             "stack's tasks and faults come from, in the exercise documents' order (the pairing "
             "exercise's Parts 1-5, shared/seeds/000, then the fault scenarios 1-8, 001), each "
             "with its time box and where that comes from, and what to hand over when.", "",
             "| start | time box | step | tasks and faults | time box from |",
             "|---|---|---|---|---|"]
    for step in steps:
        for key in step.handover if step.kind == "part" else ():
            lines.append(f"| {_clock(step.start)} | - | Hand over {HANDOVERS[key]} | | |")
        what = [f"task: {_cell(t[1])[:60]}..." if len(t[1]) > 60 else f"task: {_cell(t[1])}"
                for t in step.tasks] + [f"`{f.id}`" for f, _ in step.faults]
        title = step.title if step.kind != "opening" else \
            "Opening: hand over " + ", ".join(HANDOVERS[k] for k in step.handover)
        lines.append(f"| {_clock(step.start)} | {step.minutes} min | {title} | "
                     f"{'; '.join(what)} | {step.source} |")
    faults = [f for step in steps for f, _ in step.faults]
    lines += ["", f"Faults ({len(faults)}): " +
              (", ".join(f"`{f.id}`" for f in faults) if faults
               else "none. None: this is a healthy stack, and the run sheet is the pairing "
                    "exercise's Parts 1-3, which need no fault baked in."), ""]
    for fault_id, why in left_out(spec):
        lines += [f"Left out: `{fault_id}`: {why}.", ""]
    return lines


def _part_lines(spec: LabSpec, step: Step, numbers: dict[str, int],
                brief: list[str]) -> list[str]:
    part = step.part
    end = step.start + step.minutes
    lines = _handover_lines(spec, step.handover,
                            f"## Hand over before {part.short} ({_clock(step.start)})")
    lines += [f"## {part.label} ({step.minutes} min, {_clock(step.start)}-{_clock(end)})", "",
              f"*Time box: {step.source}.*", ""]
    doc = part.document or "its document"
    if part.goal:
        what = "Goal" if part.document == parts.PAIRING_DOC else "Issue"
        lines += [f"**{what} ({doc}):** {part.goal}", ""]
    if part.tasks:
        lines += [f"**The tasks {doc} gives** (for reference: the candidate has this stack's, "
                  "below):", ""]
        lines += [f"{i}. {t}" for i, t in enumerate(part.tasks, 1)] + [""]
    elif part.document == parts.PAIRING_DOC:
        lines += [f"{doc[0].upper()}{doc[1:]} stops at this part's title and time box: the "
                  "faults below are its tasks.", ""]
    if part.note:
        lines += [f"*{part.note}*", ""]
    if part.look_for:
        lines += [f"**What we're looking for ({doc}):**", ""]
        lines += [f"- {line}" for line in part.look_for] + [""]
    for _, task, good in step.tasks:
        lines += [f"### Task{_brief_number(brief, task)}", "", task, "",
                  f"*Good answers:* {good}", ""]
    for fault, params in step.faults:
        info = fault.describe(params, spec)
        lines += _fault_lines(numbers[fault.id], fault, info, _brief_number(brief, info["task"]))
    return lines


def _brief_number(brief: list[str], task: str) -> str:
    return f" (task {brief.index(task) + 1} of the brief)" if task in brief else ""


def scorecard(spec: LabSpec, measured: Optional[dict[str, str]] = None) -> str:
    """The scorecard: one row per task and per fault of the run sheet with its rubric and an
    empty notes column, then the measured lines, blank or (from `gpu-lab report`) filled."""
    lines = ["## Scorecard", "",
             "| # | part | task or fault | rubric: what to look for | notes |",
             "|---|---|---|---|---|"]
    row = 0
    for step in run_sheet(spec):
        for _, task, good in step.tasks:
            row += 1
            lines.append(f"| {row} | {step.part.short} | task: {_cell(task)} | {_cell(good)} | |")
        for fault, params in step.faults:
            row += 1
            info = fault.describe(params, spec)
            lines.append(f"| {row} | {step.part.short} | fault `{fault.id}`: "
                         f"{_cell(info['title'])} | {_cell(info['look_for'])} | |")
    values = measured or {}
    how = "filled by" if measured else "to be filled by"
    lines += ["", f"### Measured ({how} `venv/bin/gpu-lab report {spec.stack}`)", ""]
    lines += [f"- **{label.format(stack=spec.stack)}:** {values.get(key, BLANK)}"
              for key, label in _measured_keys(spec)]
    return "\n".join(lines + [""])


def scorecard_page(spec: LabSpec, measured: dict[str, str], source: str,
                   judged_at: Any) -> str:
    """The scorecard as `gpu-lab report` writes it: its measured lines filled."""
    return "\n".join([f"# gpu-lab scorecard: stack `{spec.stack}`", "",
                      f"Judged: {source}, {judged_at.isoformat(timespec='seconds')}.", "",
                      scorecard(spec, measured)])


def _measured_keys(spec: LabSpec) -> list[tuple[str, str]]:
    """The measured lines; Part 2's only where the stack's scenario has Part 2's task (and so
    `gpu-lab verify` judges it: lab/grading.py part2_task)."""
    scenario = SCENARIOS.get(spec.scenario or "")
    has_part2 = any(label == parts.PAIRING_2 for label, _, _ in
                    (scenario.tasks if scenario else ()))
    return [(k, label) for k, label in MEASURED if k != "part 2" or has_part2]


def interviewer_guide(spec: LabSpec) -> str:
    """The run sheet for the room: the session's steps in the exercise documents' order, with
    time boxes, what to hand over when, each fault inside its part, and the scorecard."""
    scenario = SCENARIOS.get(spec.scenario or "")
    lines = [f"# gpu-lab interviewer guide: stack `{spec.stack}`", ""]
    if scenario:
        lines += [f"Scenario **{scenario.name}**: {scenario.title}. {scenario.description}", ""]
    lines += ["The run sheet for the session: the exercise's parts in order with their time "
              "boxes, what to hand over when, and in each part its tasks and what is broken "
              "(what the candidate should see, the hints to give in order, the fix and what "
              "to look for); then the scorecard. Keep this page away from the candidate; "
              f"give them `venv/bin/gpu-lab guide --stack {spec.stack} --candidate` instead.", ""]
    steps = run_sheet(spec)
    lines += _overview(spec, steps) + _environment(spec) + _benign(spec) + _connect(spec)
    opening, *middle, wrap_up = steps
    lines += _handover_lines(spec, opening.handover,
                             f"## Opening ({opening.minutes} min, {_clock(0)}-"
                             f"{_clock(opening.minutes)}): hand over")
    lines += [f"Start `venv/bin/gpu-lab verify {spec.stack} --watch 60` in a terminal of your "
              f"own now: "
              "it records when each fault turns fixed, for the scorecard.", ""]
    numbers = {f.id: i for i, (f, _) in enumerate(
        (f for s in middle for f in s.faults), 1)}
    brief = candidate_tasks(spec)
    for step in middle:
        lines += _part_lines(spec, step, numbers, brief)
    lines += [f"## Wrap-up ({wrap_up.minutes} min, {_clock(wrap_up.start)}-"
              f"{_clock(wrap_up.start + wrap_up.minutes)})", "",
              "The candidate's questions; what they would do next with more time. Then "
              f"`venv/bin/gpu-lab verify {spec.stack}` for the last word, and `venv/bin/gpu-lab report "
              f"{spec.stack}` to fill the scorecard's measured lines.", ""]
    return "\n".join(lines) + "\n" + scorecard(spec)


# -- the scorecard's measured lines -------------------------------------------------------

def recorded_applies(stack: str) -> Optional[list[dict]]:
    """HOOK for `gpu-lab apply`'s record, the report's "Applies" line: the applies recorded
    for the stack, oldest first (lab/apply.py `recorded`: one dict per apply, with its
    "time" and "result"), or None where this checkout has no `gpu-lab apply` to record them
    (the line then says "not recorded")."""
    try:
        from lab.apply import recorded
    except ImportError:
        return None
    return recorded(stack)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"


def measure(spec: LabSpec, grade: Any, watch: Any = None,
            applies: Optional[list[dict]] = None) -> dict[str, str]:
    """The scorecard's measured lines from a grade (lab/grading.py Grade), the record of
    `venv/bin/gpu-lab verify --watch` (lab/grading.py Watch, or None) and the applies (None: not
    recorded)."""
    from lab.verify import FIXED

    verdicts = grade.verdicts
    fixed = sum(v.status == FIXED for v in verdicts)
    found = {"faults fixed": f"{fixed} of {len(verdicts)}" + (
        ": " + "; ".join(f"{v.fault} {v.status}" for v in verdicts) if verdicts else "")}
    if watch is None:
        found["time to fix"] = (f"not measured: no `venv/bin/gpu-lab verify {spec.stack} --watch` "
                                "record")
    else:
        times = []
        for v in verdicts:
            entry = watch.faults.get(v.fault)
            seconds = (entry or {}).get("seconds_to_fix")
            if entry is None:
                times.append(f"{v.fault} not watched")
            elif seconds is not None and entry.get("first_status") == FIXED:
                times.append(f"{v.fault} fixed before the watch began")
            elif seconds is not None:
                times.append(f"{v.fault} {_duration(seconds)}")
            else:
                times.append(f"{v.fault} not fixed while watched")
        found["time to fix"] = (("; ".join(times) or "no faults") +
                                f" (from the watch's start, {watch.started}; "
                                f"{watch.checks} checks)")
    collateral = list(grade.collateral)
    found["collateral"] = "none" if not collateral else f"{len(collateral)}: " + "; ".join(
        f"{c.check}: {c.evidence}" for c in collateral)
    if grade.part2 is not None:
        unmet = [f"{r.id} {r.status}" for r in grade.part2.requirements if r.status != "met"]
        found["part 2"] = grade.part2.status + (f" ({'; '.join(unmet)})" if unmet else
                                                f" (all {len(grade.part2.requirements)} "
                                                "requirements)")
    if applies is None:
        found["applies"] = "not recorded (this checkout has no `gpu-lab apply`)"
    elif not applies:
        found["applies"] = "0 (the candidate asked for none)"
    else:
        applied = sum(a.get("result") == "applied" for a in applies)
        found["applies"] = f"{len(applies)} asked for, {applied} applied: " + "; ".join(
            f"{a.get('time', '?')} {a.get('result', '?')}" for a in applies)
    return found


def candidate_tasks(spec: LabSpec) -> list[str]:
    """The tasks the candidate is given for this stack: the scenario's exercise tasks and one
    per fault, in the order of the exercise (no give-aways: the task, never the cause)."""
    scenario = SCENARIOS.get(spec.scenario or "")
    tasks: list[tuple[str, str]] = [(part, task) for part, task, _ in
                                    (scenario.tasks if scenario else ())]
    tasks += [(fault.part, fault.describe(params, spec)["task"])
              for fault, params in enabled(spec)]
    return [task for _, task in sorted(tasks, key=lambda t: parts.order(t[0]))]


def _candidate_environment(spec: LabSpec) -> list[str]:
    """The environment as the candidate may see it: only what no interview setting changes
    (the pools' shape and size, who the tenants are, which workloads run). Figures that one
    could set to break the stack (a pool's minimum, a tenant's GPU quota, a workload's
    replicas, GPUs, memory or pool) are left for the candidate to find in the cluster and
    the configuration."""
    lines = ["## Environment", "", *_cluster(spec)]
    lines += ["", "| GPU pool | accelerator | machine type | GPUs/node | nodes |",
              "|---|---|---|---|---|"]
    lines += [f"| {p.name} | {p.accelerator} ({p.gpu_memory_gb} GB) | {p.machine_type} | "
              f"{p.schedulable_gpus_per_node} | up to {p.max_nodes}{' spot' if p.spot else ''} |"
              for p in spec.gpu_pools]
    lines += ["", "| tenant | team | priority class | developer group |", "|---|---|---|---|"]
    lines += [f"| {t.name} | {t.team} | {t.priority_class} | {', '.join(t.developer_groups)} |"
              for t in spec.tenants]
    if spec.workloads:
        lines += ["", "| workload | kind |", "|---|---|"]
        lines += [f"| {w.tenant}/{w.name} | {w.kind} |" for w in spec.workloads]
    return lines + ["", _addons(spec), ""]


def _code(spec: LabSpec) -> list[str]:
    # The candidate holds no state, passphrase or cloud credentials: `gpu-lab apply` (run by
    # the interviewer) previews and applies their commit (lab/apply.py).
    return ["## The code", "",
            "The platform's Pulumi program (Python) comes with this brief, in a git "
            f"repository: `Pulumi.{spec.stack}.yaml` is the stack's configuration (node pools, "
            "add-ons, tenants, workloads), `model/` reads and validates it, `components/` "
            "turns it into GCP and Kubernetes resources. It is what runs on the cluster now.",
            "",
            "Changes reach the cluster through your interviewer, as through review and CI in "
            "a team: you hold no Pulumi state, passphrase or cloud credentials. Change the "
            "configuration or the code, commit, and ask your interviewer for an apply: they "
            "show you the preview (what would be created, updated, replaced or deleted, and "
            "which settings change) and apply it. A configuration that does not load is "
            "refused with its message, and nothing changes.", "",
            "```sh",
            'git add -A && git commit -m "what you changed and why"   # then ask for an apply',
            "git diff $(git rev-list --max-parents=0 HEAD)            # all you have changed",
            "```", ""]


def candidate_brief(spec: LabSpec, tasks: Sequence[str] = ()) -> str:
    """What the candidate gets: the environment, how to connect, the code, and the tasks.

    Computed from the spec's settings alone (never from which problems were baked in, nor
    from the preset they came from), so the brief of a stack equals the brief of its
    handout; the tasks are given as they are (`candidate_tasks`), each a symptom to chase,
    never a cause."""
    lines = ["# Your GPU platform exercise", "",
             "You are on call for a multi-tenant GPU Kubernetes platform. Tenants share GPU "
             "node pools; each has a namespace with quotas, RBAC and network policies. The "
             "platform is managed with Pulumi (Python): fix problems in the code, not only in "
             "the cluster. Use Prometheus and kubectl, and think aloud.", ""]
    lines += (_candidate_environment(spec) + _connect(spec, candidate=True)
              + _candidate_login(spec) + _code(spec))
    lines += ["## Tasks", ""]
    if tasks:
        lines += [f"{i}. {task}" for i, task in enumerate(tasks, 1)]
    else:
        lines.append("Your interviewer gives you the tasks.")
    lines.append("")
    return "\n".join(lines)
