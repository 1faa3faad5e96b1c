"""Where each fault comes from in the exercise documents (shared/seeds), and the parts
themselves in the documents' order: the pairing exercise's Parts 1-5 (000), then the fault
scenarios 1-8 (001). Each part keeps what its document says of it: its time box, goal,
tasks and what the interviewer looks for, quoted (the pairing exercise speaks of Terraform;
here the infrastructure code is the Pulumi program). The interviewer's run sheet
(lab/guide.py) is laid out from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

PAIRING_1 = "Pairing exercise, Part 1: GPU Node Validation & Cluster Readiness"
PAIRING_2 = "Pairing exercise, Part 2: Terraform - Extending Multi-Tenant Infrastructure"
PAIRING_3 = "Pairing exercise, Part 3: Deploying AI Workloads Across Multiple Tenants"
PAIRING_4 = "Pairing exercise, Part 4: Investigating & Fixing Security/Performance Issues"
PAIRING_5 = "Pairing exercise, Part 5: Debugging through observability - Prometheus"
SCENARIO_1 = "Fault scenario 1: Architecture Mismatch"
SCENARIO_2 = "Fault scenario 2: Missing or Incorrect GPU Resources"
SCENARIO_3 = "Fault scenario 3: Insufficient GPU Memory"
SCENARIO_4 = "Fault scenario 4: GPU Underutilization (Forcing CPU Mode)"
SCENARIO_5 = "Fault scenario 5: Unbalanced Workload Distribution"
SCENARIO_6 = "Fault scenario 6: Broken Logging & Monitoring"
SCENARIO_7 = "Fault scenario 7: Firewall Rules Blocking Access"
SCENARIO_8 = "Fault scenario 8: Incorrect ClusterRoleBinding"

# The pairing exercise's length: "Duration: 90-120 mins" (000).
SESSION_MINUTES = (90, 120)
PAIRING_DOC = "the pairing exercise"        # shared/seeds/000
SCENARIOS_DOC = "the fault scenarios"       # shared/seeds/001
# 001 on every scenario: "Interviewers should take note of the debugging approach, not just
# the final fix."
DEBUGGING_APPROACH = "Their debugging approach, not just the final fix."


@dataclass(frozen=True)
class Part:
    label: str                      # the constant above: what a fault's `part` names
    document: str                   # PAIRING_DOC or SCENARIOS_DOC
    title: str                      # the part's own title, without its document's prefix
    minutes: Optional[tuple[int, int]]   # the document's time box (low, high); None: none given
    goal: str                       # the document's goal (or, for a fault scenario, its issue)
    tasks: tuple[str, ...]          # the document's tasks, quoted
    look_for: tuple[str, ...]       # what the document says the interviewer looks for
    changes_code: bool              # its tasks change the infrastructure code
    note: str = ""                  # where gpu-lab departs from the document, and why

    @property
    def short(self) -> str:
        """"Part 2" or "Fault scenario 7"."""
        return self.label.split(": ", 1)[0].removeprefix("Pairing exercise, ")

    @property
    def seed_minutes(self) -> str:
        """The document's time box as it says it ("30-40 min"), or "" when it gives none."""
        if self.minutes is None:
            return ""
        low, high = self.minutes
        return f"{low} min" if low == high else f"{low}-{high} min"


PARTS: tuple[Part, ...] = (
    Part(PAIRING_1, PAIRING_DOC, "GPU Node Validation & Cluster Readiness", (15, 15),
         "Ensure the candidate understands GPU provisioning & cluster structure.",
         ("Check if GPU nodes are provisioned & labeled correctly (`kubectl get nodes -o "
          "wide`).",
          "Validate that NVIDIA drivers & GPU Operator are installed (`kubectl get pods -n "
          "gpu-operator`).",
          "Confirm that GPUs are discoverable (`kubectl describe node`, `nvidia-smi`).",
          "Explain how GPU auto-scaling works in GKE."),
         ("Can they correctly verify GPU availability?",
          "Do they understand GPU node auto-provisioning?",
          "Can they explain why GPU Operator is needed in GKE?"),
         changes_code=False),
    Part(PAIRING_2, PAIRING_DOC, "Terraform - Extending Multi-Tenant Infrastructure", (30, 40),
         "Ensure they can modify and apply Terraform configurations to improve multi-tenancy.",
         ("Add a new tenant (`tenant-c`) using Terraform (namespace, quotas, RBAC).",
          "Modify GPU quotas for `tenant-a` and `tenant-b` in Terraform (e.g., limit GPUs to 1 "
          "per tenant).",
          "Apply Terraform changes and verify (`terraform apply` + `kubectl get namespaces, "
          "resourcequotas`).",
          "Fix a misconfiguration: The Terraform file incorrectly allows `tenant-a` to access "
          "`tenant-b`'s pods."),
         ("Can they write and apply Terraform changes correctly?",
          "Do they understand how to enforce GPU resource limits with Terraform?",
          "Can they debug and fix misconfigurations in infrastructure code?"),
         changes_code=True,
         note="Its fourth task is Part 4's first (tenant-a reading tenant-b's pods): gpu-lab "
              "bakes that misconfiguration in once, as a fault of Part 4."),
    Part(PAIRING_3, PAIRING_DOC, "Deploying AI Workloads Across Multiple Tenants", (20, 30),
         "Ensure they can deploy AI workloads in isolated multi-tenant environments.",
         ("Deploy AI inference jobs in `tenant-a` and `tenant-b`.",
          "Ensure each workload only consumes the assigned GPU quota.",
          "Verify that workloads are correctly isolated between tenants.",
          "Observe resource utilization and explain GPU scheduling behavior."),
         ("Can they correctly deploy GPU workloads per tenant?",
          "Do they understand namespace-based GPU resource limitations?",
          "Can they validate that tenants don't interfere with each other?"),
         changes_code=False),
    Part(PAIRING_4, PAIRING_DOC, "Investigating & Fixing Security/Performance Issues", (15, 20),
         "Evaluate problem-solving skills in a multi-tenant GPU cluster.",
         ("A user in `tenant-a` can list pods from `tenant-b`. Investigate why and fix it in "
          "Terraform.",
          "A job in `tenant-b` is using more GPUs than allowed. Debug and fix the quota "
          "configuration.",
          "Observability is broken for one tenant—fix missing logs and ensure per-tenant "
          "monitoring."),
         ("Can they properly lock down tenant boundaries with RBAC?",
          "Do they understand GPU scheduling fairness across tenants?",
          "Can they troubleshoot Terraform-based security misconfigurations?"),
         changes_code=True),
    # 000 ends at this part's title: its goal, tasks and rubric are not written down.
    Part(PAIRING_5, PAIRING_DOC, "Debugging through observability - Prometheus", (15, 20),
         "", (), (), changes_code=False),
    Part(SCENARIO_1, SCENARIOS_DOC, "Architecture Mismatch", None,
         "A user submits a job that is built for `arm64`, but all nodes are `amd64`.",
         ("Identify why the pod is failing (`kubectl logs` and `kubectl describe`).",
          "Determine the correct architecture (`kubectl describe node`).",
          "Modify the job spec to use a compatible image."),
         (DEBUGGING_APPROACH,), changes_code=True),
    Part(SCENARIO_2, SCENARIOS_DOC, "Missing or Incorrect GPU Resources", None,
         "A job requests GPUs, but either it is scheduled on a non-GPU node or the requested "
         "GPU count exceeds available GPUs per node.",
         ("Identify why the pod is stuck (`kubectl describe pod`).",
          "Verify GPU node availability (`kubectl get nodes -o wide`).",
          "Adjust nodeSelector, affinity, or resource requests to ensure correct scheduling."),
         (DEBUGGING_APPROACH,), changes_code=True),
    Part(SCENARIO_3, SCENARIOS_DOC, "Insufficient GPU Memory", None,
         "A job requests 32GB of GPU memory, but the available GPUs only have 16GB.",
         ("Identify the failure (`kubectl logs`).",
          "Check GPU memory constraints (`nvidia-smi`).",
          "Adjust the job's resource requests."),
         (DEBUGGING_APPROACH,), changes_code=True),
    Part(SCENARIO_4, SCENARIOS_DOC, "GPU Underutilization (Forcing CPU Mode)", None,
         "A workload is expected to run on GPUs, but it defaults to CPU mode.",
         ("Check GPU utilization (`nvidia-smi` or Prometheus `DCGM_FI_DEV_GPU_UTIL`).",
          "Identify if the workload is running in CPU mode instead of GPU.",
          "Modify the job spec to explicitly use GPU devices."),
         (DEBUGGING_APPROACH,), changes_code=True),
    Part(SCENARIO_5, SCENARIOS_DOC, "Unbalanced Workload Distribution", None,
         "One node is fully utilized while another identical GPU node remains idle.",
         ("Analyze pod distribution (`kubectl get pods -o wide`).",
          "Investigate scheduling constraints (`kubectl describe node`).",
          "Adjust workload parallelism, node affinity, or MPI configuration."),
         (DEBUGGING_APPROACH, "Candidates should discuss how `MPI` helps in workload "
                              "distribution."), changes_code=True),
    Part(SCENARIO_6, SCENARIOS_DOC, "Broken Logging & Monitoring", None,
         "A workload is running, but logs and metrics are missing from Prometheus/Grafana.",
         ("Investigate missing logs (`kubectl logs`, `kubectl get events`).",
          "Verify Prometheus scraping configuration.",
          "Fix missing annotations or exporters."),
         (DEBUGGING_APPROACH,), changes_code=True),
    Part(SCENARIO_7, SCENARIOS_DOC, "Firewall Rules Blocking Access", None,
         "A newly added tenant (`tenant-c`) cannot pull images or access external services.",
         ("Check networking configuration (`kubectl describe pod`).",
          "Identify missing firewall rules.",
          "Modify Terraform to allow outbound access."),
         (DEBUGGING_APPROACH,), changes_code=True),
    Part(SCENARIO_8, SCENARIOS_DOC, "Incorrect ClusterRoleBinding", None,
         "A service account does not have permissions to create GPU workloads.",
         ("Identify why the job cannot start (`kubectl describe job`).",
          "Check service account permissions (`kubectl get clusterrolebindings`).",
          "Fix the IAM role in Terraform."),
         (DEBUGGING_APPROACH,), changes_code=True),
)
BY_LABEL: dict[str, Part] = {part.label: part for part in PARTS}


def order(label: str) -> int:
    """The part's place in the documents' order (an unknown label goes last)."""
    return next((i for i, part in enumerate(PARTS) if part.label == label), len(PARTS))
