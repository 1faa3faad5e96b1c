"""The `python -m lab` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from model.errors import ConfigError
from model.source import StackFileError, read_stack_file, stack_file

app = typer.Typer(help="gpu-lab: GPU Kubernetes interview environments on GKE.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def main() -> None:
    """Render, inspect and operate gpu-lab stacks. Every command has --help."""


def _fail(message: str, code: int = 2) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def load_stack_values(stack: Optional[str], config_file: Optional[Path]) -> tuple[str, dict]:
    """(stack name, config values) from --stack or --config-file; exits on a bad file."""
    if (stack is None) == (config_file is None):
        _fail("give exactly one of --stack NAME or --config-file PATH")
    path = config_file or stack_file(stack)
    name = stack or path.name.removeprefix("Pulumi.").removesuffix(".yaml").removesuffix(".yml")
    try:
        return name, read_stack_file(path)
    except StackFileError as err:
        _fail(str(err))
    raise AssertionError("unreachable")


@app.command()
def render(
    stack: Optional[str] = typer.Option(None, "--stack", "-s",
                                        help="Render Pulumi.<STACK>.yaml from the project."),
    config_file: Optional[Path] = typer.Option(None, "--config-file", "-c",
                                               help="Render any file in Pulumi.<stack>.yaml format."),
    json_path: Optional[Path] = typer.Option(None, "--json",
                                             help="Also write every resource as a JSON array here."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary line."),
) -> None:
    """Render a stack offline (Pulumi mocks: no CLI, cloud or cluster) and print its resource tree."""
    from lab.render import render as run_render
    from lab.tree import summary_line, tree_lines

    name, values = load_stack_values(stack, config_file)
    try:
        rendering = run_render(values, stack=name)
    except ConfigError as err:
        _fail(str(err))
    if not quiet:
        for line in tree_lines(rendering):
            typer.echo(line)
    typer.echo(summary_line(rendering))
    if json_path is not None:
        json_path.write_text(json.dumps([r.to_json() for r in rendering.resources], indent=2)
                             + "\n")
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
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help="Pulumi.<STACK>.yaml."),
    config_file: Optional[Path] = typer.Option(None, "--config-file", "-c",
                                               help="Any file in Pulumi.<stack>.yaml format."),
    candidate: bool = typer.Option(False, "--candidate",
                                   help="The candidate's brief: tasks only, no give-aways."),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="Write the Markdown here instead of stdout."),
) -> None:
    """Write the interviewer's guide for a stack (or, with --candidate, the candidate's brief)."""
    from faults import build_spec
    from lab.guide import candidate_brief, interviewer_guide
    from lab.render import PLACEHOLDER_PROJECT

    name, values = load_stack_values(stack, config_file)
    values.setdefault("gcp:project", PLACEHOLDER_PROJECT)
    try:
        spec = build_spec(values, stack=name)
    except ConfigError as err:
        _fail(str(err))
    text = candidate_brief(spec) if candidate else interviewer_guide(spec)
    if output:
        output.write_text(text)
        typer.echo(f"wrote {output}")
    else:
        typer.echo(text)
