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
