"""pod_schedulable: is there a node this pod fits? kube-scheduler's filters, offline.

A thin question on top of kube/scheduler.py (which holds the semantics): the pod, or a
pod template, against empty nodes. The reason reads like the scheduler's FailedScheduling
event, without the "preemption: ..." part: with no pods placed there is nothing to preempt,
so what matters is why each node said no.
"""

from __future__ import annotations

from typing import Iterable

from kube.answer import Answer
from kube.scheduler import NO_NODES, find_nodes_that_fit
from kube.scheduler_framework import Cluster
from kube.scheduler_scoring import select_host


def pod_schedulable(pod: dict, nodes: Iterable[dict]) -> Answer:
    """Could the scheduler place this pod (or pod template) on one of these nodes?"""
    cluster = Cluster.of(nodes)
    if not cluster.node_infos:
        return Answer(False, NO_NODES)
    outcome = find_nodes_that_fit(pod, cluster)
    if outcome.feasible:
        return Answer(True, f"fits node {select_host(pod, outcome.feasible)}")
    return Answer(False, outcome.fit_error())
