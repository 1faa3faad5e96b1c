"""The cluster's semantics, offline: what Kubernetes (and GKE) would do with a set of
objects. Symptom checks ask a candidate's questions of plain objects (dicts); the same
checks run on objects rendered offline and on objects read from a live cluster. Every
answer carries the reason, for the interviewer.
"""

from kube.answer import Answer
from kube.netpol import Endpoint, egress_allowed, ingress_allowed
from kube.objects import ObjectSet
from kube.quota import pod_admitted, quota_admits
from kube.rbac import Subject, can_i
from kube.scheduling import pod_schedulable

__all__ = ["Answer", "Endpoint", "ObjectSet", "Subject", "can_i", "egress_allowed",
           "ingress_allowed", "pod_admitted", "pod_schedulable", "quota_admits"]
