"""kube-prometheus-stack's own alerting rules that depend on the targets the twin has, as
gpu-lab restates them: the expressions the pinned chart (88.5.3) evaluates with its default
values (no `cluster` label, no additional aggregation labels, every namespace, the jobs
kube-state-metrics, kubelet, apiserver and node-exporter), the same `for:` and severity,
and short summaries of our own. Each group names the chart file it restates, under
charts/kube-prometheus-stack/templates/prometheus/rules-1.14/.

Left out: rules over series the twin does not produce (etcd, the scheduler and controller
manager GKE hides, filesystems and network devices, apiserver latency and error budgets,
Deployments', StatefulSets' and DaemonSets' rollout status, certificates, recording rules
and the alerts built on them).
"""

from __future__ import annotations

KSM = 'job="kube-state-metrics"'
CADVISOR = 'job="kubelet", metrics_path="/metrics/cadvisor"'


def _alert(name: str, expr: str, severity: str, summary: str, for_: str = "") -> dict:
    rule = {"alert": name, "expr": expr}
    if for_:
        rule["for"] = for_
    rule["labels"] = {"severity": severity}
    rule["annotations"] = {"summary": summary}
    return rule


def _quota(name: str, comparison: str, severity: str, summary: str) -> dict:
    used = f'max without (instance, job, type) (kube_resourcequota{{{KSM}, type="used"}})'
    hard = f'max without (instance, job, type) (kube_resourcequota{{{KSM}, type="hard"}}) > 0'
    keys = "cluster, namespace, resource, resourcequota"
    return _alert(name, f"topk by ({keys}) (1, {used}) / on ({keys}) group_left() "
                        f"topk by ({keys}) (1, {hard}) {comparison}", severity, summary, "15m")


def _ksm_errors(name: str, metric: str) -> dict:
    return _alert(name, f'(sum(rate({metric}{{{KSM},result="error"}}[5m])) by (cluster) / '
                        f"sum(rate({metric}{{{KSM}}}[5m])) by (cluster)) > 0.01", "critical",
                  "kube-state-metrics is failing to list or watch objects.", "15m")


def _throttled(metric: str, extra: str = "") -> str:
    drop = "id, metrics_path, name, image, endpoint, job, node"
    keys = "cluster, namespace, pod, container, instance"
    return (f"sum without ({drop}) (topk by ({keys}) (1, increase({metric}{{{extra}{CADVISOR}}}"
            f"[5m])))")


CHART_RULE_GROUPS = [
    {"name": "general.rules",            # general.rules.yaml
     "rules": [
         _alert("TargetDown", "100 * (count(up == 0) BY (cluster, job, namespace, service) / "
                              "count(up) BY (cluster, job, namespace, service)) > 10",
                "warning", "Some targets of a job are down.", "10m"),
         _alert("Watchdog", "vector(1)", "none",
                "Always firing: proves the alerting pipeline works."),
         _alert("InfoInhibitor",
                'group by (namespace) (ALERTS{severity = "info"} == 1) unless on (namespace) '
                'group by (namespace) (ALERTS{alertname != "InfoInhibitor", alertstate = '
                '"firing", severity =~ "warning|critical"} == 1)', "none",
                "Fires with info alerts in a namespace without warnings, to inhibit them."),
     ]},
    {"name": "kubernetes-system-apiserver",      # kubernetes-system-apiserver.yaml
     "rules": [_alert("KubeAPIDown", 'absent(up{job="apiserver"})', "critical",
                      "The API server has disappeared from Prometheus target discovery.",
                      "15m")]},
    {"name": "kubernetes-system-kubelet",        # kubernetes-system-kubelet.yaml
     "rules": [
         _alert("KubeNodeNotReady",
                f'kube_node_status_condition{{{KSM},condition="Ready",status="true"}} == 0 '
                f"and on (cluster, node) kube_node_spec_unschedulable{{{KSM}}} == 0",
                "warning", "A node is not ready.", "15m"),
         _alert("KubeletDown",
                f"count by (cluster) (kube_node_info{{{KSM}}}) unless on (cluster) "
                'count by (cluster) (up{job="kubelet", metrics_path="/metrics"} == 1)',
                "critical", "Kubelets have disappeared from Prometheus target discovery.",
                "15m"),
     ]},
    {"name": "kube-state-metrics",              # kube-state-metrics.yaml
     "rules": [
         _ksm_errors("KubeStateMetricsListErrors", "kube_state_metrics_list_total"),
         _ksm_errors("KubeStateMetricsWatchErrors", "kube_state_metrics_watch_total"),
         _alert("KubeStateMetricsShardingMismatch",
                f"stdvar (kube_state_metrics_total_shards{{{KSM}}}) by (cluster) != 0",
                "critical", "kube-state-metrics shards disagree on their number.", "15m"),
         _alert("KubeStateMetricsShardsMissing",
                f"2^max(kube_state_metrics_total_shards{{{KSM}}}) by (cluster) - 1 - "
                f"sum( 2 ^ max by (cluster, shard_ordinal) "
                f"(kube_state_metrics_shard_ordinal{{{KSM}}}) ) by (cluster) != 0",
                "critical", "kube-state-metrics shards are missing.", "15m"),
     ]},
    {"name": "kubernetes-apps",                 # kubernetes-apps.yaml
     "rules": [
         _alert("KubePodCrashLooping",
                f'max_over_time(kube_pod_container_status_waiting_reason{{reason='
                f'"CrashLoopBackOff", {KSM}, namespace=~".*"}}[5m]) >= 1',
                "warning", "A pod is crash looping.", "15m"),
         _alert("KubePodNotReady",
                "sum by (namespace, pod, job, cluster) (max by (namespace, pod, job, cluster) "
                f'(kube_pod_status_phase{{{KSM}, namespace=~".*", phase=~"Pending|Unknown"}} '
                f'or (kube_pod_status_phase{{{KSM}, namespace=~".*", phase="Running"}} == 1 '
                f"and on (namespace, pod, cluster) kube_pod_status_ready{{{KSM}, "
                f'namespace=~".*", condition="true"}} == 0)) * on (namespace, pod, cluster) '
                "group_left() topk by (namespace, pod, cluster) (1, max by (namespace, pod, "
                'owner_kind, cluster) (kube_pod_owner{owner_kind!="Job"}))) > 0 '
                f"unless on (namespace, pod, cluster) kube_pod_status_reason{{{KSM}, "
                'namespace=~".*", reason="SchedulingGated"} == 1',
                "warning", "A pod has not been ready for 15 minutes.", "15m"),
         _alert("KubeContainerWaiting",
                f'kube_pod_container_status_waiting_reason{{reason!="CrashLoopBackOff", '
                f'{KSM}, namespace=~".*"}} > 0',
                "warning", "A container has been waiting for an hour.", "1h"),
         _alert("KubeJobFailed", f'kube_job_failed{{{KSM}, namespace=~".*"}}  > 0',
                "warning", "A Job failed to complete.", "15m"),
     ]},
    {"name": "kubernetes-resources",            # kubernetes-resources.yaml
     "rules": [
         _quota("KubeQuotaAlmostFull", "> 0.9 < 1", "info",
                "A namespace's quota is going to be full."),
         _quota("KubeQuotaFullyUsed", "== 1", "info", "A namespace's quota is fully used."),
         _quota("KubeQuotaExceeded", "> 1", "warning",
                "A namespace's quota has been exceeded."),
         _alert("CPUThrottlingHigh",
                _throttled("container_cpu_cfs_throttled_periods_total", 'container!="", ')
                + " / on (cluster, namespace, pod, container, instance) group_left "
                + _throttled("container_cpu_cfs_periods_total") + " > ( 25 / 100 )",
                "info", "A container's CPU is throttled more than 25% of the time.", "15m"),
     ]},
    {"name": "node-exporter",                   # node-exporter.yaml
     "rules": [
         _alert("NodeCPUHighUsage",
                'sum without(mode) (avg without (cpu) (rate(node_cpu_seconds_total{job='
                '"node-exporter", mode!~"idle|iowait"}[2m]))) * 100 > 90',
                "info", "A node's CPUs are more than 90% busy.", "15m"),
         _alert("NodeSystemSaturation",
                'node_load1{job="node-exporter"} / count without (cpu, mode) '
                '(node_cpu_seconds_total{job="node-exporter", mode="idle"}) > 2',
                "warning", "A node's load per core is above 2.", "15m"),
         _alert("NodeMemoryHighUtilization",
                '100 - (node_memory_MemAvailable_bytes{job="node-exporter"} / '
                'node_memory_MemTotal_bytes{job="node-exporter"} * 100) > 90',
                "warning", "A node is running out of memory.", "15m"),
     ]},
]


def chart_rule_groups(values: dict) -> list[dict]:
    """The groups above, when the chart's values create its default rules, without the
    alerts `defaultRules.disabled` names (each template's `if not
    (.Values.defaultRules.disabled.<alert> | default false)`)."""
    rules = values.get("defaultRules") or {}
    if not rules.get("create", True):
        return []
    disabled = {name for name, off in (rules.get("disabled") or {}).items() if off}
    return [dict(group, rules=[dict(r) for r in group["rules"]
                               if r.get("alert") not in disabled])
            for group in CHART_RULE_GROUPS]
