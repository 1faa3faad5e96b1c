"""quota_admits / pod_admitted against hand-written quotas and limit ranges."""

from kube import ObjectSet, pod_admitted, quota_admits
from model.quantity import parse_quantity
from kube.quota import make_pod


def quota(hard, name="compute", namespace="t", used=None, priority=None):
    obj = {"kind": "ResourceQuota", "metadata": {"name": name, "namespace": namespace},
           "spec": {"hard": hard}}
    if priority:
        obj["spec"]["scopeSelector"] = {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": [priority]}]}
    if used:
        obj["status"] = {"used": used}
    return obj


def test_requests_key_limits_gpus():
    objects = ObjectSet([quota({"requests.nvidia.com/gpu": "1"})])
    assert quota_admits(objects, "t", make_pod(gpus=1))
    answer = quota_admits(objects, "t", make_pod(gpus=2))
    assert not answer
    assert answer.reason == ('pods "probe" is forbidden: exceeded quota: compute, requested: '
                             "requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=0, "
                             "limited: requests.nvidia.com/gpu=1")


def test_replicas_are_admitted_one_at_a_time():
    objects = ObjectSet([quota({"requests.nvidia.com/gpu": "2"})])
    assert quota_admits(objects, "t", make_pod(gpus=1), copies=2)
    answer = quota_admits(objects, "t", make_pod(gpus=1), copies=3)
    assert not answer
    assert answer.reason == ('replica 3 of 3: pods "probe" is forbidden: exceeded quota: '
                             "compute, requested: requests.nvidia.com/gpu=1, used: "
                             "requests.nvidia.com/gpu=2, limited: requests.nvidia.com/gpu=2")


def test_limits_and_bare_gpu_keys_are_accepted_but_not_enforced():
    for key in ("limits.nvidia.com/gpu", "nvidia.com/gpu"):
        objects = ObjectSet([quota({key: "1"})])
        answer = quota_admits(objects, "t", make_pod(gpus=4))
        assert answer, key
        assert f"sets {key}=1, which Kubernetes does not enforce" in answer.reason


def test_keys_that_charge_other_objects_than_pods_are_not_called_unenforced():
    # pkg/quota/v1/evaluator/core: count/<resource>.<group> is charged by the object count
    # evaluators, <class>.storageclass.storage.k8s.io/requests.storage by the PVC evaluator.
    objects = ObjectSet([quota({"count/deployments.apps": "10", "count/jobs.batch": "5",
                                "gold.storageclass.storage.k8s.io/requests.storage": "1Ti",
                                "limits.nvidia.com/gpu": "1"})])
    answer = quota_admits(objects, "t", make_pod(gpus=1))
    assert answer and "limits.nvidia.com/gpu=1, which Kubernetes does not enforce" in \
        answer.reason
    assert "count/" not in answer.reason and "storageclass" not in answer.reason


def test_used_counts_against_the_quota():
    objects = ObjectSet([quota({"requests.nvidia.com/gpu": "2"},
                               used={"requests.nvidia.com/gpu": "2"})])
    assert not quota_admits(objects, "t", make_pod(gpus=1))
    assert quota_admits(objects, "t", make_pod(gpus=0))


def test_priority_scoped_quota_applies_only_to_its_class():
    objects = ObjectSet([quota({"requests.nvidia.com/gpu": "0"}, name="low",
                               priority="experiment-low")])
    assert not quota_admits(objects, "t", make_pod(gpus=1, priority_class="experiment-low"))
    assert quota_admits(objects, "t", make_pod(gpus=1, priority_class="production-high"))
    assert quota_admits(objects, "t", make_pod(gpus=1))


def test_cpu_quota_needs_requests_unless_a_limit_range_defaults_them():
    hard = {"requests.cpu": "4", "requests.memory": "8Gi"}
    bare = ObjectSet([quota(hard)])
    answer = quota_admits(bare, "t", make_pod())
    assert not answer and "must specify requests.cpu" in answer.reason
    defaults = {"kind": "LimitRange", "metadata": {"name": "defaults", "namespace": "t"},
                "spec": {"limits": [{"type": "Container",
                                     "defaultRequest": {"cpu": "500m", "memory": "1Gi"}}]}}
    with_defaults = ObjectSet([quota(hard), defaults])
    assert quota_admits(with_defaults, "t", make_pod())
    assert not quota_admits(with_defaults, "t", make_pod(cpu="5"))
    assert not quota_admits(with_defaults, "t", make_pod(memory="9Gi"))


def test_limit_range_maximum_becomes_every_containers_gpu_default():
    limits = {"kind": "LimitRange", "metadata": {"name": "defaults", "namespace": "t"},
              "spec": {"limits": [{"type": "Container", "max": {"nvidia.com/gpu": "2"}}]}}
    objects = ObjectSet([quota({"requests.nvidia.com/gpu": "1"}), limits])
    answer = pod_admitted(objects, "t", make_pod(name="busybox"))
    assert not answer
    assert "requested: requests.nvidia.com/gpu=2" in answer.reason


def test_limit_range_default_below_a_gpu_request_makes_the_pod_invalid():
    limits = {"kind": "LimitRange", "metadata": {"name": "defaults", "namespace": "t"},
              "spec": {"limits": [{"type": "Container", "max": {"nvidia.com/gpu": "2"}}]}}
    pod = make_pod(name="half")
    pod["spec"]["containers"][0]["resources"] = {"requests": {"nvidia.com/gpu": "1"}}
    answer = pod_admitted(ObjectSet([limits]), "t", pod)
    assert not answer
    assert answer.reason == ('Pod "half" is invalid: spec.containers[0].resources.requests: '
                             'Invalid value: "1": must be equal to nvidia.com/gpu limit of 2')


def test_limit_range_maximum_rejects_before_quota():
    limits = {"kind": "LimitRange", "metadata": {"name": "defaults", "namespace": "t"},
              "spec": {"limits": [{"type": "Container", "max": {"nvidia.com/gpu": "1"}}]}}
    objects = ObjectSet([quota({"requests.nvidia.com/gpu": "4"}), limits])
    answer = pod_admitted(objects, "t", make_pod(gpus=2))
    assert not answer
    assert "maximum nvidia.com/gpu usage per Container is 1" in answer.reason
    assert quota_admits(objects, "t", make_pod(gpus=2))   # the quota alone would allow it


def test_no_quota_admits_anything():
    answer = quota_admits(ObjectSet([]), "t", make_pod(gpus=8))
    assert answer and answer.reason == "no ResourceQuota in t"


def test_quantities():
    assert parse_quantity("500m") == parse_quantity("0.5")
    assert parse_quantity("1Gi") == 1024 ** 3
    assert parse_quantity("2k") == 2000
    assert parse_quantity(3) == 3
