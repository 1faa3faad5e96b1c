"""The `gpu-lab` commands (also `python -m lab`).

Exit codes, the same for every command (docs/operating-interviews.md, "Exit codes and
files"): 0 done; 1 not yet (verify), short (preflight) or an operation that could not go on
(new, reset, destroy, list, reap, apply: no Pulumi CLI, no such stack, a failed or declined
step); 2 bad config, arguments or paths; 3 the source cannot be read (a cluster, snapshot,
handout or GCP project); 4 the report's upload failed.
"""

from __future__ import annotations

import copy
import inspect
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NoReturn, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from model.errors import ConfigError, did_you_mean
from model.source import PROJECT_DIR, StackFileError, read_stack_file, stack_file

EXIT_NOT_YET = 1
EXIT_BAD_INPUT = 2
EXIT_UNREADABLE = 3
EXIT_UPLOAD_FAILED = 4

EXIT_CODES = ("Exit codes: 0 done; 1 not yet (verify), short (preflight) or the operation could "
              "not go on (new, reset, destroy, list, reap, apply); 2 bad config, arguments or "
              "paths; 3 the "
              "cluster, snapshot, handout or GCP project cannot be read; 4 the report upload "
              "failed.")


class _FlagsTakeNoValue:
    """Typer's rich help prints a type after every option, flags included (`--quiet <bool>`,
    `--help <bool>`), as if they took a value. It prints a metavar instead of the type when
    one is set, so flags get an empty one."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class _Group(_FlagsTakeNoValue, TyperGroup):
    pass


class _Command(_FlagsTakeNoValue, TyperCommand):
    pass


class _Typer(typer.Typer):
    """typer.Typer whose commands all use _Command (so no command can miss it), each listed
    in the main --help by its docstring's first paragraph on one line (rich help keeps the
    docstring's line breaks there)."""

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", _Command)

        def register(function):
            if function.__doc__ and not kwargs.get("short_help"):
                first = inspect.cleandoc(function.__doc__).split("\n\n")[0]
                kwargs["short_help"] = " ".join(first.split())
            return super(_Typer, self).command(*args, **kwargs)(function)
        return register


app = _Typer(cls=_Group,
             help=f"gpu-lab: GPU Kubernetes interview environments on GKE.\n\n{EXIT_CODES}",
             no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def main() -> None:
    """Render, inspect and operate gpu-lab stacks. Every command has --help."""


def run() -> None:
    """The `gpu-lab` command (pyproject.toml's console script): this app, from any directory.
    It reads the checkout it was installed from (stack files, the program): an editable install
    has one, a copied one does not."""
    import sys

    if not (PROJECT_DIR / "Pulumi.yaml").is_file():
        print(f"gpu-lab: {PROJECT_DIR} is not a gpu-lab checkout (no Pulumi.yaml): install it "
              "editable, `pip install -e CHECKOUT` (as `make install` does)", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    app(prog_name="gpu-lab")


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@contextmanager
def _writing(option: str, path: Path) -> Iterator[None]:
    """Writing to an option's file or directory: an OSError (a directory that does not exist,
    a read-only one, a directory where a file belongs) is a bad path, said in one line with
    the option, the path and the system's reason; exit 2."""
    try:
        yield
    except OSError as err:
        failed = err.filename and Path(err.filename) != Path(path)
        _fail(f"{option} {path}: cannot write{f' {err.filename}' if failed else ''}: "
              f"{err.strerror or err}")


def _write_text(option: str, path: Path, text: str) -> None:
    """Write an option's file (its directory must exist); exits 2 when it cannot."""
    with _writing(option, path):
        path.write_text(text)


def _output_file(option: str, path: Optional[Path]) -> Optional[Path]:
    """Check an option's file before any work: its directory exists and takes files, and the
    path is not a directory; exits 2 in one line otherwise."""
    if path is None:
        return None
    if path.is_dir():
        _fail(f"{option} {path}: cannot write: Is a directory")
    parent = path.parent
    if not parent.is_dir():
        _fail(f"{option} {path}: cannot write: No such file or directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        _fail(f"{option} {path}: cannot write: Permission denied")
    return path


def _output_dir(option: str, path: Path) -> Path:
    """Check an option's output directory before any work: it is a directory, or one can be
    made there (its nearest existing ancestor is a directory), and it takes files; exits 2 in
    one line otherwise. It is made (with its parents) only when something is written into it,
    so a command that stops on a later error leaves no directory behind."""
    with _writing(option, path):
        if path.exists() and not path.is_dir():
            _fail(f"{option} {path}: not a directory")
        existing = path
        while not existing.exists():
            existing = existing.parent
    if not existing.is_dir():
        _fail(f"{option} {path}: cannot write: Not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        _fail(f"{option} {path}: cannot write: Permission denied")
    return path


def stack_names() -> list[str]:
    """The stacks with a settings file in the project (Pulumi.<name>.yaml)."""
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                  for p in PROJECT_DIR.glob("Pulumi.*.yaml"))


def load_stack_values(stack: Optional[str], config_file: Optional[Path],
                      stack_given_as: str = "--stack NAME") -> tuple[str, dict]:
    """(stack name, config values) from a stack name or --config-file; exits 2 on a bad file.

    `stack_given_as` is how the command takes the stack's name ("--stack NAME", or "STACK"
    where it is a positional argument), so that messages speak of what the user typed."""
    if (stack is None) == (config_file is None):
        _fail(f"give exactly one of {stack_given_as} or --config-file PATH")
    if config_file is not None:
        name = config_file.name.removeprefix("Pulumi.").removesuffix(".yaml") \
            .removesuffix(".yml")
        try:
            return name, read_stack_file(config_file)
        except StackFileError as err:
            _fail(f"--config-file {err}")
    label = stack_given_as.split()[0]
    path = stack_file(stack)
    try:
        return stack, read_stack_file(path)
    except StackFileError as err:
        if path.exists():
            _fail(f"{label} {stack}: {err}")
        names = stack_names()
        _fail(f"{label} {stack!r}: no such stack file {path.name} in {PROJECT_DIR}"
              f"{did_you_mean(stack, names)}; stacks: {', '.join(names) or 'none'} "
              f"(or give --config-file PATH)")


def _build_spec(name: str, values: dict):
    """The validated, fault-injected spec of these config values; exits 2 on bad config."""
    from faults import build_spec
    from lab.render import PLACEHOLDER_PROJECT

    values = copy.deepcopy(values)
    values.setdefault("gcp:project", PLACEHOLDER_PROJECT)
    try:
        return build_spec(values, stack=name)
    except ConfigError as err:
        _fail(str(err))


def _stack_spec(stack: Optional[str], config_file: Optional[Path]):
    """The validated, fault-injected spec of a stack file; exits 2 on bad config."""
    return _build_spec(*load_stack_values(stack, config_file))


STACK_OPTION = typer.Option(None, "--stack", "-s", help="Pulumi.<STACK>.yaml.")
CONFIG_FILE_OPTION = typer.Option(None, "--config-file", "-c",
                                  help="Any file in Pulumi.<stack>.yaml format.")
SCENARIO_OPTION = typer.Option(None, "--scenario", metavar="NAME",
                               help="A ready-made scenario (the `scenarios` command lists them) "
                                    "as a stack of that name, without a stack file.")


def load_stack_or_scenario(stack: Optional[str], config_file: Optional[Path],
                           scenario: Optional[str]) -> tuple[str, dict]:
    """load_stack_values, or --scenario NAME: the stack NAME whose config is the scenario alone
    (gpu-lab:allowFaults and gpu-lab:scenario); exits 2 when not exactly one is given or the
    scenario does not exist."""
    given = [option for option, value in (("--stack", stack), ("--config-file", config_file),
                                          ("--scenario", scenario)) if value is not None]
    if len(given) != 1:
        _fail(f"{' and '.join(given) + ' together: ' if given else ''}give exactly one of "
              f"--stack NAME, --config-file PATH or --scenario NAME")
    if scenario is None:
        return load_stack_values(stack, config_file)
    from faults import SCENARIOS

    if scenario not in SCENARIOS:
        _fail(f"--scenario {scenario!r}: no such scenario{did_you_mean(scenario, SCENARIOS)}; "
              f"scenarios: {', '.join(SCENARIOS)}")
    return scenario, {"gpu-lab:allowFaults": True, "gpu-lab:scenario": scenario}


@app.command()
def render(
    stack: Optional[str] = typer.Option(None, "--stack", "-s",
                                        help="Render Pulumi.<STACK>.yaml from the project."),
    config_file: Optional[Path] = typer.Option(None, "--config-file", "-c",
                                               help="Render any file in Pulumi.<stack>.yaml format."),
    scenario: Optional[str] = SCENARIO_OPTION,
    json_path: Optional[Path] = typer.Option(
        None, "--json", help="Also write every resource as a JSON array to this file (its "
                             "directory must exist); `-`: to stdout, the tree and summary "
                             "then go to stderr."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary line."),
) -> None:
    """Render a stack offline (Pulumi mocks: no CLI, cloud or cluster) and print its resource
    tree and its outputs (the faults it bakes in among them)."""
    from lab.render import render as run_render
    from lab.tree import output_lines, summary_line, tree_lines

    to_stdout = json_path == Path("-")     # stdout is the JSON alone; the rest goes to stderr
    if not to_stdout:
        _output_file("--json", json_path)
    name, values = load_stack_or_scenario(stack, config_file, scenario)
    try:
        rendering = run_render(values, stack=name)
    except ConfigError as err:
        _fail(str(err))
    if not quiet:
        for line in tree_lines(rendering) + output_lines(rendering.outputs):
            typer.echo(line, err=to_stdout)
    typer.echo(summary_line(rendering), err=to_stdout)
    if to_stdout:
        typer.echo(json.dumps([r.to_json() for r in rendering.resources], indent=2))
    elif json_path is not None:
        _write_text("--json", json_path,
                    json.dumps([r.to_json() for r in rendering.resources], indent=2) + "\n")
        typer.echo(f"wrote {len(rendering.resources)} resources to {json_path}")


@app.command()
def scenarios(as_json: bool = typer.Option(False, "--json",
                                           help="Print every fault with all its metadata.")) -> None:
    """List the fault catalog (id, exercise part, layer, title) and the ready-made scenarios."""
    from dataclasses import asdict

    from faults import FAULTS, SCENARIOS, default_params

    if as_json:
        catalog = []
        for fault in FAULTS.values():
            catalog.append({
                "id": fault.id, "title": fault.title, "part": fault.part, "layer": fault.layer,
                "params": [asdict(p) for p in fault.params], "task": fault.task,
                "symptom": fault.symptom, "hints": list(fault.hints), "fix": fault.fix,
                "look_for": fault.look_for, "check": fault.check,
                "platforms": list(fault.platforms)})
        typer.echo(json.dumps(catalog, indent=2))
        return
    rows = [(f.id, f.part.split(":")[0], f.layer, f.title.format(**default_params(f)))
            for f in FAULTS.values()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    typer.echo(f"{'ID':{widths[0]}}  {'PART':{widths[1]}}  {'LAYER':{widths[2]}}  TITLE")
    for row in rows:
        typer.echo(f"{row[0]:{widths[0]}}  {row[1]:{widths[1]}}  {row[2]:{widths[2]}}  {row[3]}")
    typer.echo("\nScenarios (gpu-lab:scenario):")
    for scenario in SCENARIOS.values():
        ids = ", ".join(f if isinstance(f, str) else f["id"] for f in scenario.faults)
        typer.echo(f"  {scenario.name:27} {scenario.title}: {ids}")


@app.command()
def guide(
    stack: Optional[str] = STACK_OPTION,
    config_file: Optional[Path] = CONFIG_FILE_OPTION,
    scenario: Optional[str] = SCENARIO_OPTION,
    candidate: bool = typer.Option(False, "--candidate",
                                   help="The candidate's brief: tasks only, no give-aways."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write the Markdown to this file instead of stdout (its "
                                     "directory must exist)."),
) -> None:
    """Write the interviewer's guide for a stack (or, with --candidate, the candidate's brief)."""
    from lab.guide import candidate_brief, candidate_tasks, interviewer_guide

    _output_file("--output", output)
    spec = _build_spec(*load_stack_or_scenario(stack, config_file, scenario))
    text = candidate_brief(spec, candidate_tasks(spec)) if candidate \
        else interviewer_guide(spec)
    if output:
        _write_text("--output", output, text)
        typer.echo(f"wrote {output}")
    else:
        typer.echo(text)


@app.command()
def handout(
    stack: Optional[str] = STACK_OPTION,
    config_file: Optional[Path] = CONFIG_FILE_OPTION,
    scenario: Optional[str] = SCENARIO_OPTION,
    output: Path = typer.Option(..., "--output", "-o",
                                help="The directory to write (new, or empty; created with its "
                                     "parents)."),
) -> None:
    """Write the candidate's copy of the stack: a Pulumi project that renders exactly what the
    stack runs, its config with the problems as ordinary settings, the brief as README.md;
    nothing from the catalog (offline, from the stack file)."""
    from lab.handout import write_handout

    name, values = load_stack_or_scenario(stack, config_file, scenario)
    with _writing("--output", output):
        try:
            result = write_handout(values, name, output)
        except ConfigError as err:
            _fail(str(err))
        except FileExistsError:
            _fail(f"--output {output}: not empty; give a new or empty directory")
    typer.echo(f"wrote {len(result.files)} files to {output}: give the candidate this "
               f"directory (Pulumi.{name}.yaml, the program, README.md is their brief)")


@app.command()
def simulate(
    stack: Optional[str] = STACK_OPTION,
    config_file: Optional[Path] = CONFIG_FILE_OPTION,
    scenario: Optional[str] = SCENARIO_OPTION,
    as_json: bool = typer.Option(False, "--json",
                                 help="Print the pods as a JSON list (namespace, pod, owner, "
                                      "status, node, reason, message, events)."),
    promql: Optional[str] = typer.Option(
        None, "--query", metavar="EXPR",
        help="Instead of the pods: what Prometheus answers to this PromQL instant query once "
             "the cluster settles, or with --after the cluster as it is then (Prometheus' own "
             "engine); --json: [{metric, value}]."),
    show_alerts: bool = typer.Option(
        False, "--alerts", help="Instead of the pods: the alerts Prometheus would have "
                                "firing (gpu-lab's rules and the chart's); --json: "
                                "[{alert, labels}]."),
    after: Optional[str] = typer.Option(
        None, "--after", metavar="DURATION",
        help="The pods this long after they were created (30m, 2h, 1h30m): the kubelet's "
             "restarts, Jobs failing, the cluster autoscaler's scale-down and PodGC have "
             "acted (default: once the cluster settles, 5m)."),
) -> None:
    """Show what `kubectl get pods -A` would show once the stack's cluster settles, or
    --after a while (offline)."""
    from kube.timeline import parse_duration, spoken
    from lab.simulate import simulate_stack, table

    seconds = None
    if after is not None:
        try:
            seconds = parse_duration(after)
        except ValueError as err:
            _fail(f"--after {err}")
    name, values = load_stack_or_scenario(stack, config_file, scenario)
    if promql is not None or show_alerts:
        _simulate_prometheus(name, values, promql, show_alerts, as_json, seconds)
        return
    try:
        views = simulate_stack(values, name, seconds)
    except ConfigError as err:
        _fail(str(err))
    if as_json:
        typer.echo(json.dumps([v.to_json() for v in views], indent=2))
        return
    if seconds is not None:
        typer.echo(f"{spoken(seconds)} after the pods were created:")
    for line in table(views):
        typer.echo(line)


def _simulate_prometheus(name: str, values: dict, promql: Optional[str], show_alerts: bool,
                         as_json: bool, after: Optional[float] = None) -> None:
    """simulate --query / --alerts: exit 2 for a bad config, expression or both options, 3
    when Prometheus' tools are missing (make install) or fail."""
    from kube.prometheus_engine import EngineError, EngineMissing
    from lab.simulate import (NoPrometheus, alert_lines, alerts, prometheus_stack, query,
                              query_lines)

    if promql is not None and show_alerts:
        _fail("--query and --alerts together: give one of them")
    try:
        view = prometheus_stack(values, name, after)
        result = query(view, promql) if promql is not None else alerts(view)
    except (ConfigError, NoPrometheus) as err:
        _fail(str(err))
    except EngineMissing as err:
        _fail(str(err), EXIT_UNREADABLE)
    except EngineError as err:
        _fail(f"--query {promql}: {err}" if promql is not None else str(err),
              EXIT_BAD_INPUT if promql is not None else EXIT_UNREADABLE)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for line in (query_lines(result) if promql is not None else alert_lines(result)):
        typer.echo(line)


@app.command(name="kind-config")
def kind_config(
    stack: Optional[str] = typer.Option(None, "--stack", "-s",
                                        help="Pulumi.<STACK>.yaml, on platform existing "
                                             "(default: local)."),
    config_file: Optional[Path] = CONFIG_FILE_OPTION,
    scenario: Optional[str] = typer.Option(None, "--scenario", metavar="NAME",
                                           help="Lay this scenario out on the stack's nodes "
                                                "(as gpu-lab:scenario with allowFaults)."),
) -> None:
    """Print the kind cluster config (kind.x-k8s.io/v1alpha4) whose nodes are the ones a
    platform-existing stack's GPU pools list: `kind create cluster --config <(venv/bin/gpu-lab
    kind-config --scenario pairing)`."""
    from faults import SCENARIOS, left_out
    from kube.nodes import kind_config_yaml

    name, values = load_stack_values(stack if stack or config_file else "local", config_file)
    if scenario is not None:
        if scenario not in SCENARIOS:
            _fail(f"--scenario {scenario!r}: no such scenario{did_you_mean(scenario, SCENARIOS)}"
                  f"; scenarios: {', '.join(SCENARIOS)}")
        values = {**values, "gpu-lab:scenario": scenario, "gpu-lab:allowFaults": True}
    spec = _build_spec(name, values)
    notes = [f"kind cluster for gpu-lab stack {name}"
             + (f", scenario {spec.scenario}" if spec.scenario else "")
             + "; gpu-lab labels its GPU pools' nodes itself on `pulumi up`"]
    notes += [f"left out on this platform: {fault_id}: {why}"
              for fault_id, why in left_out(spec)]
    try:
        typer.echo(kind_config_yaml(spec, tuple(notes)), nl=False)
    except ConfigError as err:
        _fail(str(err))


# -- operating interviews -------------------------------------------------------------------

def _echo(line: str) -> None:
    typer.echo(line, nl=False)


def _api_client(kubeconfig: Optional[Path], context: Optional[str]):
    from kubernetes import config as kube_config
    from kubernetes.config.config_exception import ConfigException

    try:
        return kube_config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig else None, context=context)
    except (ConfigException, OSError) as err:
        _fail(f"cannot load the kubeconfig: {err}", code=EXIT_UNREADABLE)


class _Grading:
    """The stack, its references and the source of the judged state, for verify and report:
    exits 2 on bad config or options, 3 when the source cannot be read."""

    def __init__(self, stack, config_file, kubeconfig, context, prometheus_url,
                 snapshot: Optional[Path] = None, handout_dir: Optional[Path] = None):
        from lab import grading
        from lab.render import PLACEHOLDER_PROJECT

        if snapshot is not None and handout_dir is not None:
            _fail("give at most one of --snapshot FILE and --handout DIR")
        # verify and report take the stack as their positional STACK argument.
        self.name, values = load_stack_values(stack, config_file, stack_given_as="STACK")
        values.setdefault("gcp:project", PLACEHOLDER_PROJECT)
        self.spec = _build_spec(self.name, values)
        self.snapshot, self.handout_dir, self.prometheus_url = snapshot, handout_dir, \
            prometheus_url
        self.api_client = _api_client(kubeconfig, context) \
            if snapshot is None and handout_dir is None else None
        try:
            self.reference = grading.reference(values, self.name)
        except ConfigError as err:
            _fail(str(err))

    @property
    def live(self) -> bool:
        return self.api_client is not None

    def run(self):
        """(grade, judged state, started, finished); exits 3 when the source cannot be read."""
        from datetime import datetime, timezone

        from lab import grading

        started = datetime.now(timezone.utc)
        try:
            if self.snapshot is not None:
                state = grading.read_snapshot(self.spec, self.snapshot)
            elif self.handout_dir is not None:
                state = grading.read_handout(self.spec, self.handout_dir, self.name)
            else:
                state = grading.read_live(self.spec, self.api_client, self.prometheus_url)
        except grading.SourceError as err:
            _fail(str(err), code=getattr(err, "exit_code", EXIT_UNREADABLE))
        try:
            result = grading.grade(self.spec, state.context, self.reference)
        except Exception as err:  # noqa: BLE001 - live, access questions go to the API server
            if not self.live:
                raise
            _fail(f"cannot read the cluster: {type(err).__name__}: "
                  f"{(str(err).splitlines() or [''])[0]}", code=EXIT_UNREADABLE)
        return result, state, started, datetime.now(timezone.utc)


STACK_ARGUMENT = typer.Argument(None, metavar="STACK",
                                help="The stack: Pulumi.<STACK>.yaml in the project (or give "
                                     "--config-file).")
CONFIG_FILE_OPTION = typer.Option(None, "--config-file", "-c",
                                  help="Any file in Pulumi.<stack>.yaml format, instead of STACK.")
KUBECONFIG_OPTION = typer.Option(None, "--kubeconfig",
                                 help="Live: the kubeconfig (default: $KUBECONFIG or "
                                      "~/.kube/config).")
CONTEXT_OPTION = typer.Option(None, "--context",
                              help="Live: the kubeconfig context (default: the current one).")
SNAPSHOT_OPTION = typer.Option(
    None, "--snapshot", metavar="FILE",
    help="Judge this snapshot instead of a cluster: `kubectl get ... -A -o yaml` output (a "
         "List or several documents; pods with status, events, nodes).")
HANDOUT_OPTION = typer.Option(
    None, "--handout", metavar="DIR",
    help="Judge the candidate's edited handout project instead: rendered offline, its pods "
         "from the twin.")
PROMETHEUS_OPTION = typer.Option(None, "--prometheus-url",
                                 help="Live: Prometheus, to see whether the DCGM exporter is "
                                      "scraped, e.g. http://localhost:9090 after a "
                                      "port-forward.")


@app.command()
def verify(
    stack: Optional[str] = STACK_ARGUMENT,
    config_file: Optional[Path] = CONFIG_FILE_OPTION,
    kubeconfig: Optional[Path] = KUBECONFIG_OPTION,
    context: Optional[str] = CONTEXT_OPTION,
    prometheus_url: Optional[str] = PROMETHEUS_OPTION,
    snapshot: Optional[Path] = SNAPSHOT_OPTION,
    handout_dir: Optional[Path] = HANDOUT_OPTION,
    watch: Optional[float] = typer.Option(
        None, "--watch", metavar="SECONDS",
        help="Live: check again every SECONDS until every fault is fixed without collateral "
             "(Ctrl-C stops), recording when each fault turned fixed (for `gpu-lab report`)."),
    rounds: Optional[int] = typer.Option(None, "--rounds",
                                         help="With --watch: stop after this many checks."),
    output_dir: Path = typer.Option(Path("reports"), "--output-dir",
                                    help="Where --watch keeps its record (watch/<STACK>.json; "
                                         "created if missing)."),
    as_json: bool = typer.Option(False, "--json",
                                 help='Print {"verdicts": [...], "collateral": [...]}.'),
) -> None:
    """Grade the candidate's fix: per fault present, fixed or cannot tell, and the collateral
    (what the changes broke that the healthy stack has). Judges a live cluster, a snapshot
    (--snapshot) or the candidate's edited handout (--handout).

    Exit 0: every fault fixed and no collateral; 1: not yet; 2: bad config, arguments or
    paths; 3: the source cannot be read."""
    import time
    from datetime import datetime, timezone

    from lab import grading

    if watch is not None:       # before the stack is rendered and the cluster read
        _output_dir("--output-dir", output_dir)
    grader = _Grading(stack, config_file, kubeconfig, context, prometheus_url, snapshot,
                      handout_dir)
    if watch is not None and not grader.live:
        _fail("--watch re-reads a live cluster; a snapshot or a handout does not change")
    record_path = grading.watch_path(output_dir, grader.name)
    record = grading.Watch.load(record_path, grader.name, datetime.now(timezone.utc)) \
        if watch is not None else None
    checks = 0
    while True:
        result, _, _, finished = grader.run()
        checks += 1
        if record is None:
            break
        for line in record.update(result, finished):
            typer.echo(line)
        with _writing("--output-dir", output_dir):
            record.save(record_path)
        if result.passed or (rounds is not None and checks >= rounds):
            break
        try:
            time.sleep(watch)
        except KeyboardInterrupt:
            break
    typer.echo(json.dumps(result.to_json(), indent=2) if as_json else result.table())
    if record is not None and not as_json:
        typer.echo(f"watch record: {record_path}")
    raise typer.Exit(result.exit_code)


@app.command()
def report(
    stack: Optional[str] = STACK_ARGUMENT,
    archive: Optional[str] = typer.Option(None, "--archive", metavar="s3://BUCKET/PREFIX",
                                          help="Also upload the report and its snapshot there "
                                               "(default: keep them in --output-dir only)."),
    endpoint_url: Optional[str] = typer.Option(None, "--endpoint-url",
                                               help="With --archive: an S3-compatible endpoint "
                                                    "(MinIO, GCS)."),
    config_file: Optional[Path] = CONFIG_FILE_OPTION,
    kubeconfig: Optional[Path] = KUBECONFIG_OPTION,
    context: Optional[str] = CONTEXT_OPTION,
    prometheus_url: Optional[str] = PROMETHEUS_OPTION,
    snapshot: Optional[Path] = SNAPSHOT_OPTION,
    handout_dir: Optional[Path] = HANDOUT_OPTION,
    output_dir: Path = typer.Option(Path("reports"), "--output-dir",
                                    help="Where the local copies are written (created if "
                                         "missing)."),
) -> None:
    """Grade the stack (as `gpu-lab verify`), write the report (verdicts, collateral, time to fix
    per fault from `gpu-lab verify --watch`, scenario, timings) and the snapshot it judged to
    --output-dir, and with --archive upload both. Next to them, <report>.scorecard.md: the
    guide's scorecard with its measured lines filled (faults fixed, time to fix, collateral,
    Part 2, applies); the report's JSON carries them too (scorecard, part2), and every
    `gpu-lab apply` recorded (applies).

    Exit 2: bad config, arguments or paths; 3: the source cannot be read;
    4: the upload failed (the local copies stay)."""
    from lab import grading
    from lab.archive import (ArchiveError, build_report, parse_s3_url, save_local,
                             save_snapshot, upload)
    from lab.guide import measure, recorded_applies, scorecard_page

    if archive is None and endpoint_url is not None:
        _fail("--endpoint-url: only with --archive s3://BUCKET/PREFIX")
    try:
        if archive is not None:
            parse_s3_url(archive)
    except ArchiveError as err:
        _fail(str(err))
    _output_dir("--output-dir", output_dir)     # before the stack is rendered and judged
    grader = _Grading(stack, config_file, kubeconfig, context, prometheus_url, snapshot,
                      handout_dir)
    result, state, started, finished = grader.run()
    record = grading.watch_path(output_dir, grader.name)
    watched = grading.Watch.load(record, grader.name, started) if record.is_file() else None
    report_data = build_report(grader.spec, result.verdicts, started, finished,
                               collateral=result.collateral, watch=watched, source=state.source)
    applies = recorded_applies(grader.name)
    measured = measure(grader.spec, result, watched, applies)
    report_data["part2"] = result.part2.to_json() if result.part2 is not None else None
    report_data["scorecard"] = measured
    # Every `gpu-lab apply` of the candidate's handout (lab/apply.py): time, diff, preview, result.
    report_data["applies"] = applies or []
    with _writing("--output-dir", output_dir):
        path = save_local(report_data, output_dir)
        judged = save_snapshot(path, state.objects, state.logs, finished)
        path.with_name(path.stem + ".scorecard.md").write_text(
            scorecard_page(grader.spec, measured, state.source, finished))
    typer.echo(f"report written to {path}, the snapshot it judged to {judged}")
    if archive is None:
        return
    for local in (path, judged):
        try:
            typer.echo(f"uploaded to {upload(local, archive, endpoint_url)}")
        except ArchiveError as err:
            _fail(f"upload failed: {err}; the report stays at {path}", code=EXIT_UPLOAD_FAILED)


@app.command(name="preflight")
def preflight_command(
    stack: Optional[str] = STACK_OPTION,
    config_file: Optional[Path] = CONFIG_FILE_OPTION,
    offline: bool = typer.Option(False, "--offline",
                                 help="Only compute what the stack needs; read nothing from GCP."),
    as_json: bool = typer.Option(False, "--json", help="Print requirements and APIs as JSON."),
    project: Optional[str] = typer.Option(None, "--project",
                                          help="GCP project (default: the stack's gcp:project, "
                                               "then $GOOGLE_CLOUD_PROJECT)."),
) -> None:
    """Check a GCP project's quotas and APIs against what the stack needs at its largest, and
    say what the stack costs an hour (idle and full; lab/cost.py).

    Exit 0: it fits; 1: something is short; 2: bad config or arguments; 3: the project
    cannot be read."""
    from faults import build_spec
    from lab import cost
    from lab import preflight as checks
    from lab.render import PLACEHOLDER_PROJECT

    name, values = load_stack_values(stack, config_file)
    project = project or values.get("gcp:project")
    values["gcp:project"] = project or PLACEHOLDER_PROJECT
    try:
        spec = build_spec(values, stack=name)
        report = checks.run(spec, project, offline=offline)
    except ConfigError as err:
        _fail(str(err))
    except checks.PreflightError as err:
        _fail(str(err))
    except checks.Unreadable as err:
        _fail(f"preflight: {err}", code=EXIT_UNREADABLE)
    estimate = cost.estimate(spec)
    if as_json:
        typer.echo(json.dumps({**report.to_json(), "cost": estimate.to_json()}, indent=2))
    else:
        typer.echo(checks.table(report))
        typer.echo("\n" + "\n".join(cost.lines(estimate)))
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def new(
    candidate: str = typer.Argument(..., metavar="CANDIDATE",
                                    help="Names the stack and the cluster: 2-24 lowercase "
                                              "letters, digits and '-', starting with a "
                                              "letter."),
    scenario: str = typer.Option("pairing", "--scenario",
                                 help="The scenario to bake in (`gpu-lab scenarios` lists them)."),
    project: Optional[str] = typer.Option(None, "--project",
                                          help="GCP project (default: $GOOGLE_CLOUD_PROJECT)."),
    tenant: str = typer.Option("tenant-a", "--tenant",
                               help="The namespace the candidate's kubeconfig starts in."),
    hours: float = typer.Option(8.0, "--hours",
                                help="When the stack should be gone, and how long the "
                                     "candidate's login is valid."),
    region: str = typer.Option("us-central1", "--region", help="GCP region of the stack."),
    authorized_cidrs: Optional[list[str]] = typer.Option(
        None, "--authorized-cidr", metavar="CIDR",
        help="Allow only this range to reach the cluster's control plane (repeat for more; "
             "default: any address). `gpu-lab reset` keeps it."),
    skip_preflight: bool = typer.Option(False, "--skip-preflight",
                                        help="Do not check the project's quotas and APIs first "
                                             "(for projects whose quotas cannot be read)."),
) -> None:
    """Create a candidate's stack from a scenario, run `pulumi up`, and write their login.
    First checks the arguments and that the project has the quota and APIs the stack needs
    (`gpu-lab preflight`), and says what the stack costs an hour.

    Exit 1: no Pulumi CLI or the stack cannot be made; 2: bad arguments or config, or
    candidates/ cannot be written; 3: the project's quotas cannot be read."""
    from datetime import datetime, timezone

    from lab import stacks

    try:
        # The arguments before the Pulumi CLI: a typo is a typo whether or not it is installed.
        stacks.check_candidate(candidate)
        stacks.check_scenario(scenario)
        stacks.check_hours(hours)
        stacks.check_cidrs(authorized_cidrs or [])
        project = project or os.environ.get("GOOGLE_CLOUD_PROJECT") or \
            os.environ.get("CLOUDSDK_CORE_PROJECT")
        if not project:
            raise stacks.BadArgument("--project: not given, and neither GOOGLE_CLOUD_PROJECT "
                                     "nor CLOUDSDK_CORE_PROJECT is set")
        config = stacks.candidate_config(candidate, scenario, project, hours, tenant,
                                         datetime.now(timezone.utc), region,
                                         authorized_cidrs or [])
        stacks.check_config(candidate, config)
        stacks.require_cli()
        if not skip_preflight:
            stacks.preflight(candidate, config, project)
        _echo_cost(stacks.cost_estimate(candidate, config), hours)
        result = stacks.new_stack(candidate, config, _echo)
        kubeconfig = result.outputs["kubeconfig"].value
        login = stacks.write_candidate_access(candidate, kubeconfig, tenant, hours)
    except stacks.LabError as err:
        _fail(str(err), code=getattr(err, "exit_code", EXIT_NOT_YET))
    typer.echo(f"\nStack {candidate} is up (expires {config['gpu-lab:expiresAt']}).")
    typer.echo(f"Candidate login (ServiceAccount gpu-lab-candidate/candidate, valid "
               f"{hours:g}h): {login}")
    typer.echo(f"Candidate brief:  venv/bin/gpu-lab guide --stack {candidate} --candidate")
    typer.echo(f"Your guide:       venv/bin/gpu-lab guide --stack {candidate}")
    typer.echo(f"Check progress:   venv/bin/gpu-lab verify {candidate}")
    hint = stacks.control_plane_hint(candidate, config)
    if hint:
        typer.echo(f"\n{hint}")


def _echo_cost(estimate, hours: float) -> None:
    """What the stack about to be made costs, before the 10-15 minutes of `pulumi up`."""
    from lab import cost

    for line in cost.lines(estimate):
        typer.echo(line)
    over = estimate.idle.times(hours).text(unit="")
    typer.echo(f"Over its --hours {hours:g} at the idle rate: {over} (more while the autoscaler "
               "runs nodes above the minimum; `gpu-lab reap` destroys it once it has expired)\n")


@app.command()
def reset(
    candidate: str = typer.Argument(..., metavar="CANDIDATE",
                                    help="The stack `gpu-lab new` made."),
    hours: float = typer.Option(8.0, "--hours", help="How long the new login is valid."),
    keep_login: bool = typer.Option(False, "--keep-login",
                                    help="Keep the candidate's ServiceAccount and tokens "
                                         "(same candidate, fresh start)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask."),
) -> None:
    """Bring a candidate's stack back to the interviewer's configuration (recorded config,
    refresh, up) for the next candidate; replaces the login and writes a new kubeconfig.

    Exit 1: no Pulumi CLI, no such stack, or one `gpu-lab new` did not make; 2: bad arguments,
    or the new login cannot be written."""
    from lab import stacks

    try:
        stacks.check_hours(hours)
        stacks.require_cli()
        if not yes:
            typer.confirm(f"Reset stack {candidate} to the interviewer's configuration "
                          "(the candidate's changes are lost)?", abort=True)
        reset_result = stacks.reset_stack(candidate, _echo, typer.echo,
                                          replace_login=not keep_login)
        login, tenant = stacks.login_settings(reset_result.config)
        outputs = reset_result.up.outputs
        path = None
        if login and reset_result.login_replaced and "kubeconfig" in outputs:
            path = stacks.write_candidate_access(candidate, outputs["kubeconfig"].value, tenant,
                                                 hours)
    except stacks.LabError as err:
        _fail(str(err), code=getattr(err, "exit_code", EXIT_NOT_YET))
    typer.echo(f"\nStack {candidate} is back to the interviewer's configuration.")
    removed = reset_result.removed
    typer.echo(f"Removed from the tenant namespaces ({len(removed)}), what the stack does not "
               "manage: " + (", ".join(removed) if removed else "nothing"))
    if path:
        typer.echo(f"New candidate login (the old one no longer works), valid {hours:g}h: "
                   f"{path}")


@app.command()
def login(
    stack: str = typer.Argument(..., metavar="STACK",
                                help="The stack, as Pulumi.<STACK>.yaml in the project."),
    kubeconfig: Optional[Path] = typer.Option(None, "--kubeconfig",
                                              help="Your kubeconfig, with the cluster admin's "
                                                   "context (default: $KUBECONFIG or "
                                                   "~/.kube/config)."),
    context: Optional[str] = typer.Option(None, "--context",
                                          help="Its context for the cluster (default: the "
                                               "stack's gpu-lab:cluster.kubeContext, else the "
                                               "current context)."),
    hours: float = typer.Option(8.0, "--hours", help="How long the login is valid."),
) -> None:
    """Write the candidate's login for a stack you brought up yourself (a local cluster:
    `pulumi up` of Pulumi.local.yaml with a scenario): a token of the ServiceAccount
    gpu-lab-candidate/candidate the stack made, valid --hours, as a kubeconfig in
    candidates/<STACK>/kubeconfig, starting in the stack's gpu-lab:candidate.tenant. Stacks
    `gpu-lab new` made get theirs from `new` and `reset`.

    Exit 2: bad arguments, a stack that makes no candidate login, or a kubeconfig without the
    context; 3: the cluster gives no token (not up, or the stack not applied)."""
    from lab import stacks

    name, values = load_stack_values(stack, None, stack_given_as="STACK")
    spec = _build_spec(name, values)
    if not spec.candidate_login:
        _fail(f"stack {name} makes no candidate login: set gpu-lab:candidate.login: true (a "
              "scenario does), apply the stack, then run this again")
    from kubernetes.config.kube_config import KUBE_CONFIG_DEFAULT_LOCATION

    # As the Kubernetes client reads it: $KUBECONFIG (its first file), else ~/.kube/config.
    path = kubeconfig or Path(KUBE_CONFIG_DEFAULT_LOCATION.split(os.pathsep)[0]).expanduser()
    try:
        stacks.check_hours(hours)
        text = Path(path).read_text()
        admin = stacks.context_kubeconfig(text, context or spec.cluster.kube_context)
        written = stacks.write_candidate_access(
            name, admin, spec.candidate_tenant, hours,
            again="apply the stack (pulumi up) to that cluster, then run this again")
    except OSError as err:
        _fail(f"cannot read the kubeconfig {path}: {err.strerror or err}")
    except stacks.LabError as err:
        _fail(str(err), code=getattr(err, "exit_code", EXIT_BAD_INPUT))
    typer.echo(f"Candidate login for stack {name}, valid {hours:g}h: {written} (hand it over; "
               "they check it with `kubectl --kubeconfig kubeconfig get nodes`)")


@app.command(name="apply")
def apply_command(
    stack: str = typer.Argument(..., metavar="STACK",
                                help="The interviewer's stack: one `gpu-lab new` made, or "
                                     "Pulumi.<STACK>.yaml in the project."),
    handout_dir: Path = typer.Option(..., "--handout", metavar="DIR",
                                     help="The candidate's handout repository, with their "
                                          "change (committed, or in the working tree)."),
    yes: bool = typer.Option(False, "--yes", help="Apply without asking (otherwise y/N, "
                                                  "when stdin is a terminal)."),
) -> None:
    """Apply the candidate's handout to the stack, as review and CI would: the preview (adds,
    updates, replaces, deletes by resource, the changed inputs), then, when confirmed, `pulumi
    up` of their program with your backend and passphrase. Each apply is recorded for `lab
    report`. Without the Pulumi CLI, the preview is computed offline and nothing is applied.

    Exit 0: applied (or nothing to apply); 1: not applied (declined, no --yes without a
    terminal, no Pulumi CLI, the preview or up failed); 2: a handout made for another stack,
    setting the interviewer's keys or exporting `faults`, or a record that cannot be
    written; 3: the handout cannot be read or does not render."""
    import tempfile

    from lab import apply as applying, stacks
    from lab.handout import write_handout

    def record(result: str, diff=None, preview=None) -> None:
        try:
            path = applying.record(stack, applying.entry(stack, handout_dir, diff, preview,
                                                         result))
        except stacks.LabError as err:
            _fail(str(err), code=getattr(err, "exit_code", EXIT_BAD_INPUT))
        typer.echo(f"recorded in {path}")

    if (stacks.CANDIDATES_DIR / stack / stacks.CONFIG_RECORD).is_file():
        try:
            values = stacks.recorded_config(stack)
        except stacks.LabError as err:
            _fail(str(err))
    else:
        _, values = load_stack_values(stack, None, stack_given_as="STACK")
    try:
        applying.check_record(stack)
        source = applying.read_handout(handout_dir, stack)
        applying.check_keys(source, values)
    except stacks.LabError as err:
        _fail(str(err), code=getattr(err, "exit_code", EXIT_BAD_INPUT))
    diff = applying.handout_diff(source.directory,
                                 lambda path: write_handout(values, stack, path))
    typer.echo(f"Handout {source.directory} for stack {stack}: {len(diff.files)} files changed "
               f"since {diff.base}" + (" (uncommitted changes included: they are applied "
                                       "too)" if diff.head and diff.uncommitted else ""))
    for line in diff.files:
        typer.echo(f"  {line}")
    if diff.text:
        typer.echo("\n" + diff.text.rstrip("\n"))
    code = applying.code_files(diff, stack)
    if code:
        typer.echo(f"\nThe change touches the program's code ({', '.join(code)}): it runs in "
                   "this process now, to render the preview (without this project's other "
                   "packages or the credentials in the environment), and under `pulumi up` "
                   "with the stack's. Read the diff above before you confirm.")
    try:
        rendering = applying.render_handout(source)
    except (applying.Refused, applying.Unreadable) as err:
        record(f"refused: {str(err).splitlines()[0]}", diff)
        _fail(str(err), code=err.exit_code)
    try:
        gained = applying.rights_gained(values, stack, source, rendering)
    except Exception as err:  # noqa: BLE001 - the candidate's model, as verify --handout
        record(f"refused: {str(err).splitlines()[0]}", diff)
        _fail(f"cannot tell what rights the change grants: {err}", code=EXIT_BAD_INPUT)
    if gained:
        typer.echo("\nRights the change grants that the stack does not:")
        for collateral in gained:
            typer.echo(f"  {collateral.evidence}")
    widened = applying.login_gains(gained)
    if widened:
        record("refused: the change widens the candidate's login", diff)
        _fail("refused: the change gives the candidate's login rights it does not have "
              "(above); the exercise never needs them. Ask for a change without it.",
              code=EXIT_BAD_INPUT)
    try:
        stacks.require_cli()
    except stacks.LabError:
        preview = applying.offline_preview(values, stack, rendering)
        typer.echo(f"\nOffline preview of stack {stack}: {preview.summary_line()}")
        for line in preview.lines():
            typer.echo(line)
        typer.echo("\nThis preview is computed offline: the handout's program and the stack "
                   "rendered under mocks (the stack as its config makes it, without earlier "
                   "applies), compared by resource and input. Nothing was applied: `pulumi "
                   f"up` needs the Pulumi CLI; {stacks.INSTALL_HINT.split(': ', 1)[1]}.")
        record("not applied: no Pulumi CLI (offline preview)", diff, preview)
        raise typer.Exit(EXIT_NOT_YET)
    with tempfile.TemporaryDirectory(prefix="gpu-lab-apply-") as scratch:
        try:
            config_file = applying.applied_config(source, values, Path(scratch))
            target = applying.select_stack(stack, source.directory)
            preview = applying.engine_preview(target, config_file)
        except stacks.LabError as err:
            record(f"not applied: {err}", diff)
            _fail(str(err), code=getattr(err, "exit_code", EXIT_NOT_YET))
        typer.echo(f"\nPreview of stack {stack}: {preview.summary_line()}")
        for line in preview.lines():
            typer.echo(line)
        if not preview.changes:
            record("nothing to apply", diff, preview)
            return
        if not yes:
            if not applying.interactive():
                record("not applied: not confirmed (no --yes, stdin is not a terminal)", diff,
                       preview)
                _fail("not applied: give --yes to apply without a terminal", EXIT_NOT_YET)
            if not typer.confirm(f"Apply the handout to stack {stack}?", default=False):
                record("not applied: declined", diff, preview)
                _fail("not applied", EXIT_NOT_YET)
        try:
            applying.up(target, config_file, _echo)
        except stacks.LabError as err:
            record(f"failed: {err}", diff, preview)
            _fail(str(err), code=getattr(err, "exit_code", EXIT_NOT_YET))
    typer.echo(f"\nApplied the handout to stack {stack}.")
    record("applied", diff, preview)


@app.command()
def destroy(candidate: str = typer.Argument(..., metavar="CANDIDATE",
                                            help="The stack to destroy."),
            yes: bool = typer.Option(False, "--yes", help="Do not ask.")) -> None:
    """Tear down a candidate's stack and remove it.

    Exit 1: no Pulumi CLI or no such stack."""
    from lab import stacks

    try:
        stacks.require_cli()
        if not yes:
            typer.confirm(f"Destroy every resource of stack {candidate}?", abort=True)
        stacks.destroy_stack(candidate, _echo)
    except stacks.LabError as err:
        _fail(str(err), code=EXIT_NOT_YET)
    typer.echo(f"stack {candidate} destroyed and removed")


@app.command(name="list")
def list_(as_json: bool = typer.Option(False, "--json",
                                       help="Print the stacks as a JSON list.")) -> None:
    """List interview stacks: scenario, age, expiry, what each has cost so far, resources;
    flags expired ones."""
    from dataclasses import asdict

    from lab import cost, stacks

    try:
        rows = stacks.list_stacks()
    except stacks.LabError as err:
        _fail(str(err), code=EXIT_NOT_YET)
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    typer.echo(f"{'STACK':24} {'SCENARIO':26} {'AGE':>6} {'EXPIRES':21} {'COST*':>9} RESOURCES")
    for r in rows:
        flag = "  EXPIRED: destroy it" if r.expired and r.resources else ""
        typer.echo(f"{r.name:24} {r.scenario:26} {r.age:>6} {r.expires_at:21} "
                   f"{_cost_cell(r):>9} {r.resources}{flag}")
    if not rows:
        return
    typer.echo(f"* so far, at the stack's idle rate (every pool at its minNodes; "
               f"{cost.REFERENCE_REGION} prices of {cost.PRICES_AS_OF}, lab/cost.py) since its "
               "creation (gpu-lab:createdAt, recorded by `gpu-lab new`); nodes the autoscaler ran "
               "above the minimum are not in it. >= counts from the last update (no creation "
               "time recorded); <= counts a Spot price the table lacks at the on-demand price; "
               "~ both.")
    for r in rows:
        if r.cost_usd is None and r.resources:
            typer.echo(f"  {r.name}: no cost figure ({r.cost_since})")


def _cost_cell(row) -> str:
    if row.cost_usd is None:
        return "-"
    since_update = row.cost_since == "last update"     # too few hours: a lower bound
    mark = {(True, False): ">=", (False, True): "<=", (True, True): "~"}.get(
        (since_update, row.cost_upper_bound), "")
    return f"{mark}${row.cost_usd:.2f}"


@app.command()
def reap(dry_run: bool = typer.Option(False, "--dry-run",
                                      help="Only list the expired stacks; destroy nothing.")
         ) -> None:
    """Destroy every stack past its expires-at (set by `gpu-lab new --hours`) and remove it, one
    after the other. For cron: prints nothing when no stack has expired, one line per stack
    otherwise (failures on stderr).

    Exit 1: no Pulumi CLI, or a stack was not destroyed (the others still are)."""
    from lab import stacks

    def report(result) -> None:
        expired = f"expired {result.expires_at}"
        if dry_run:
            typer.echo(f"would destroy {result.name} ({expired})")
        elif result.error is None:
            typer.echo(f"destroyed {result.name} ({expired})")
        else:
            typer.echo(f"FAILED {result.name} ({expired}): {result.error}", err=True)

    try:
        results = stacks.reap_stacks(report, dry_run=dry_run)
    except stacks.LabError as err:
        _fail(str(err), code=EXIT_NOT_YET)
    if any(r.error for r in results):
        raise typer.Exit(EXIT_NOT_YET)
