"""Symptom checks: questions a candidate would ask of a cluster, answered from plain
Kubernetes objects (dicts). The same checks run on objects rendered offline and on
objects read from a live cluster. Every answer carries the reason, for the interviewer.
"""

from lab.checks.answer import Answer
from lab.checks.netpol import Endpoint, egress_allowed, ingress_allowed
from lab.checks.objects import ObjectSet
from lab.checks.quota import pod_admitted, quota_admits
from lab.checks.rbac import Subject, can_i
from lab.checks.scheduling import pod_schedulable

__all__ = ["Answer", "Endpoint", "ObjectSet", "Subject", "can_i", "egress_allowed",
           "ingress_allowed", "pod_admitted", "pod_schedulable", "quota_admits"]
