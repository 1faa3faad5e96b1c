"""gpu-lab tooling: `python -m lab` (render, and more to come)."""
