"""What a fault's candidate must see, and what a fault's change takes away, as plain strings
the registry compares (faults/registry.py `_hidden_evidence`, fnmatch patterns in `hides`).

The strings, per workload `<tenant>/<name>`:
- `status <STATUS> of <w>`: kubectl's STATUS column for its pods (Pending, CrashLoopBackOff);
- `running <w>`: its pods run (the evidence is in what they do: GPUs held, placement);
- `scheduled <w>`: its pods are bound to nodes (the evidence is where);
- `log <w>`: `kubectl logs` of its pods shows what the program prints;
- `cuda <w>`: it computes on the GPU (what fails or shows there needs CUDA);
- `series <metric> of <w>`, `no series <metric> of <w>`, `alert <name> for <tenant>`:
  Prometheus' answers (kube/prometheus_series.py makes them).

A fault's `hides` is compared only with the other faults' evidence: what its change takes from
a workload includes every other status, never its own.
"""

from __future__ import annotations


def stopped(*workloads: str) -> set[str]:
    """What a change that keeps a workload's containers from running takes away: every other
    status, the running pods, their logs and their series."""
    return {pattern for w in workloads
            for pattern in (f"status * of {w}", f"running {w}", f"log {w}", f"cuda {w}",
                            f"series * of {w}")}


def unscheduled(*workloads: str) -> set[str]:
    """A change that keeps a workload's pods Pending: also where they would run."""
    return stopped(*workloads) | {f"scheduled {w}" for w in workloads}

