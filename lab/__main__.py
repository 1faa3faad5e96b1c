"""python -m lab: the gpu-lab tooling."""

from lab.cli import app

app(prog_name="python -m lab")
