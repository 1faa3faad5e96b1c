"""What the kubelet (and containerd) would make of a pod bound to a node: image pulls,
container starts, what the containers' programs do, restarts, and the STATUS kubectl
prints for the result.

Pulls go out from the node, not the pod: a NetworkPolicy never stops them, a VPC firewall
rule on the node's network tag does. Private Google Access still reaches Google's
registries (gcr.io, pkg.dev) when the node may not reach the internet. A container's own
traffic (pip in the init container) needs both the node's way out and the pod's
NetworkPolicy egress.

The programs are gpu-lab's own: workload/infer.py (exit 3 with its CUDA out-of-memory
line when the model's working set exceeds the GPU, exit 4 for --device cuda without a
GPU, the CPU otherwise when no GPU is visible) and `pip install` in the init container.
STATUS follows kubectl's pod printer (pkg/printers/internalversion/printers.go, printPod):
a waiting init container shows `Init:<reason>`, a failed one `Init:Error`, a waiting
container its reason, a terminated one its reason (Completed, Error).

An image that is one foreign platform's manifest (not an index) fails by the node's
containerd, as containerd's sources show (`foreign_manifest`):
- the CRI plugin pulls with client.Pull, which unpacks every platform's layers
  (client/pull.go: the unpack platform matcher is platforms.All unless
  CheckPlatformSupported), in containerd 1.7 and 2.0 always, and from 2.1 when the CRI
  config needs the local pull (internal/cri/config/config.go, CheckLocalImagePullConfigs:
  discard_unpacked_layers, registry mirrors/configs/auths, snapshot annotations, ...;
  kind's node image sets discard_unpacked_layers). The container is created from the
  foreign layers and the kernel refuses to run them: exec format error, every time;
- from 2.1 the default pull goes through the transfer service, which unpacks only layers
  whose image config matches the node's platform (core/unpack/unpacker.go: "unpacker does
  not support platform, only fetching layers"). CreateContainer then finds no snapshot and
  unpacks the image itself (internal/cri/opts/container.go, WithNewSnapshot): up to 2.2.1
  with image.Unpack, which takes the root manifest whatever its platform (core/images/
  image.go, Manifest), so again exec format error; from 2.2.2 (and 2.3) with a
  platform-matched core/unpack Unpacker that skips it again, so the container cannot be
  created: CreateContainerError, "failed to create containerd container: parent snapshot
  ... does not exist: not found" (core/metadata/snapshot.go).
A node says its containerd in status.nodeInfo.containerRuntimeVersion (the twin's nodes in
the annotation gpu-lab/container-runtime) and, for the twin, how its CRI pulls in the
annotation gpu-lab/cri-image-pull (local or transfer; absent: containerd's default for its
version).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from kube.images import image
from model.quantity import parse_quantity

GPU = "nvidia.com/gpu"
ACCELERATOR_LABEL = "gpu-lab/accelerator"
ARCH_LABEL = "kubernetes.io/arch"
GIB = 2 ** 30
# GPU memory in bytes as torch.cuda reports it (total_memory), which is what infer.py
# compares the model's working set with: a little less than the marketed size.
TORCH_GPU_MEMORY = {"nvidia-tesla-t4": 15_843_721_216, "nvidia-l4": 23_580_639_232,
                    "nvidia-tesla-a100": 42_505_273_344, "nvidia-a100-80gb": 85_100_068_864,
                    "nvidia-h100-80gb": 85_029_158_912}
GOOGLE_REGISTRIES = ("gcr.io", "pkg.dev", "googleapis.com")
EXIT_OOM, EXIT_NO_GPU = 3, 4
EXEC_FORMAT_EXIT = 255
CRI_PULL_ANNOTATION = "gpu-lab/cri-image-pull"
RUNTIME_ANNOTATION = "gpu-lab/container-runtime"
CREATE_CONTAINER_ERROR = "CreateContainerError"
# What the kubelet reports when the platform-matched unpacker left no snapshot of a foreign
# single manifest.
NO_FOREIGN_SNAPSHOT = ("failed to create containerd container: parent snapshot sha256:... "
                       "does not exist: not found")

# The kubelet's back-off between restarts of a failed container (pkg/kubelet/kubelet.go:
# backOffPeriod 10 s, MaxContainerBackOff 300 s; client-go flowcontrol.Backoff): the first
# restart is at once, then the wait doubles up to 5 minutes, counted from the exit. The
# ReduceDefaultCrashLoopBackOffDecay gate (1 s to 60 s) is alpha and off through 1.36.
BACKOFF_INITIAL, BACKOFF_MAX = 10, 300


def restart_time(n: int) -> float:
    """When a container that fails as soon as it starts is restarted the n-th time (n >= 1),
    counted from its first start."""
    at, wait = 0.0, 0.0
    for _ in range(n - 1):
        wait = BACKOFF_INITIAL if wait == 0 else min(wait * 2, BACKOFF_MAX)
        at += wait
    return at


def restarts_by(elapsed: float) -> int:
    """Restarts of such a container `elapsed` seconds after its first start (RESTARTS)."""
    if elapsed < 0:
        return 0
    steady = restart_time(6)             # from here on, one restart every BACKOFF_MAX
    if elapsed >= steady:
        return 6 + int((elapsed - steady) // BACKOFF_MAX)
    return sum(1 for n in range(1, 7) if restart_time(n) <= elapsed)


def containerd_version(node: dict) -> Optional[tuple[int, ...]]:
    """status.nodeInfo.containerRuntimeVersion ("containerd://2.0.4"; the twin's nodes say
    it in the annotation gpu-lab/container-runtime), None if unknown."""
    raw = ((node.get("status") or {}).get("nodeInfo") or {}).get("containerRuntimeVersion") \
        or ((node.get("metadata") or {}).get("annotations") or {}).get(RUNTIME_ANNOTATION, "")
    if not raw.startswith("containerd://"):
        return None
    parts = []
    for piece in raw.removeprefix("containerd://").split("-")[0].lstrip("v").split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts) or None


def foreign_manifest(node: dict) -> str:
    """What a single manifest for another architecture comes to on this node: "exec" (it
    is unpacked, runs, and the kernel says exec format error) or CREATE_CONTAINER_ERROR."""
    version = containerd_version(node)
    pull = ((node.get("metadata") or {}).get("annotations") or {}).get(CRI_PULL_ANNOTATION)
    if version is None or version < (2, 1) or pull == "local":
        return "exec"
    if version < (2, 2, 2):
        return "exec"
    return CREATE_CONTAINER_ERROR


@dataclass
class NodeNetwork:
    """What a node's traffic may reach."""
    internet: bool = True          # False: a firewall rule denies egress to 0.0.0.0/0

    def reaches_registry(self, registry: str) -> bool:
        # GKE's containerd also asks mirror.gcr.io (a Google registry) for Docker Hub images
        # and finds the ones Google happens to cache; which those are cannot be known
        # offline, so a node without the internet is taken to fail Docker Hub pulls.
        google = any(registry == r or registry.endswith("." + r) for r in GOOGLE_REGISTRIES)
        return self.internet or google


@dataclass
class Outcome:
    """A container's fate: ran to the end (exit code), runs on, or never started."""
    running: bool = False
    exit_code: Optional[int] = None
    waiting: Optional[str] = None          # ErrImagePull / ImagePullBackOff
    message: str = ""
    logs: str = ""


@dataclass
class PodResult:
    status: str                            # kubectl's STATUS column
    phase: str                             # Pending, Running, Succeeded, Failed
    reason: str = ""
    message: str = ""
    events: list[str] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)   # container -> last log lines
    restarts: int = 0


def option(args: list[str], flag: str, default: str) -> str:
    """An option's value as infer.py's parser reads it: the last occurrence wins, and
    `--flag value` and `--flag=value` are the same."""
    value = default
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def run_infer(args: list[str], gpus: int, accelerator: Optional[str]) -> Outcome:
    """workload/infer.py with these arguments in a container holding `gpus` GPUs."""
    device = option(args, "--device", "auto")
    batches = int(option(args, "--batches", "0"))
    demand = float(option(args, "--gpu-memory-gb", "0"))
    on_gpu = gpus > 0 and device in ("auto", "cuda")
    if device == "cuda" and gpus == 0:
        return Outcome(exit_code=EXIT_NO_GPU, logs='{"event": "error", "message": "--device '
                       'cuda, but no GPU is visible to this container"}')
    shortfall = memory_shortfall(demand, accelerator) if on_gpu else None
    if shortfall:
        return Outcome(exit_code=EXIT_OOM,
                       logs=f'{{"event": "error", "message": "{shortfall}"}}')
    where = "cuda" if on_gpu else "cpu"
    logs = "" if "--log-file" in args else f'{{"event": "startup", "device": "{where}"}}'
    if batches:
        return Outcome(exit_code=0, logs=logs)
    return Outcome(running=True, logs=logs)


def memory_shortfall(demand_gb: float, accelerator: Optional[str]) -> Optional[str]:
    """infer.py's out-of-memory line for a working set on this accelerator, else None."""
    from model.gpu_catalog import CATALOG
    if accelerator not in TORCH_GPU_MEMORY or demand_gb * GIB <= TORCH_GPU_MEMORY[accelerator]:
        return None
    return (f"CUDA out of memory: this model needs {demand_gb:.1f} GiB of GPU memory, but "
            f"the GPU ({CATALOG[accelerator].model}) has "
            f"{TORCH_GPU_MEMORY[accelerator] / GIB:.1f} GiB")


def run_pip(internet: bool) -> Outcome:
    if internet:
        return Outcome(exit_code=0)
    return Outcome(exit_code=1, logs=(
        "WARNING: Retrying ... after connection broken by 'ConnectTimeoutError(... "
        "'Connection to pypi.org timed out. (connect timeout=15)')'\n"
        "ERROR: Could not find a version that satisfies the requirement prometheus-client"))


def run_container(container: dict, node: dict, network: NodeNetwork, pod_internet: bool,
                  gpus: int) -> Outcome:
    """Pull, start and run one container on `node`."""
    labels = node["metadata"].get("labels") or {}
    arch = labels.get(ARCH_LABEL, "amd64")
    img = image(container.get("image", ""))
    if not network.reaches_registry(img.registry):
        host = "registry-1.docker.io" if img.registry == "docker.io" else img.registry
        return Outcome(waiting="ImagePullBackOff", message=(
            f'Failed to pull image "{img.reference}": failed to do request: Head '
            f'"https://{host}/v2/...": dial tcp ...:443: i/o timeout'))
    if not img.resolves_for(arch):
        return Outcome(waiting="ImagePullBackOff", message=(
            f'Failed to pull image "{img.reference}": no match for platform in manifest: '
            f"not found"))
    command = (container.get("command") or []) + (container.get("args") or [])
    if not img.runs_on(arch) and foreign_manifest(node) == CREATE_CONTAINER_ERROR:
        return Outcome(waiting=CREATE_CONTAINER_ERROR, message=NO_FOREIGN_SNAPSHOT)
    if not img.runs_on(arch):
        program = command[0] if command else "/entrypoint"
        return Outcome(exit_code=EXEC_FORMAT_EXIT,
                       logs=f"exec /usr/local/bin/{program}: exec format error")
    if command[:4] == ["python", "-m", "pip", "install"]:
        return run_pip(network.internet and pod_internet)
    if len(command) > 1 and command[0] == "python" and command[1].endswith("infer.py"):
        return run_infer(command[2:], gpus, labels.get(ACCELERATOR_LABEL))
    return Outcome(running=True)


def container_gpus(container: dict) -> int:
    limits = (container.get("resources") or {}).get("limits") or {}
    return int(parse_quantity(limits.get(GPU, 0)))


def run_pod(pod: dict, node: dict, network: NodeNetwork,
            pod_internet: Callable[[dict], bool]) -> PodResult:
    """The settled state of a pod bound to `node`."""
    spec = pod["spec"]
    policy = spec.get("restartPolicy", "Always")
    events = [f"Normal Scheduled default-scheduler Successfully assigned "
              f"{pod['metadata']['namespace']}/{pod['metadata']['name']} to "
              f"{node['metadata']['name']}"]
    internet = pod_internet(pod)
    for container in spec.get("initContainers") or []:
        outcome = run_container(container, node, network, internet, container_gpus(container))
        logs = {container["name"]: outcome.logs}
        if outcome.waiting:
            return _pull_failed(container, outcome, events, logs, init=True)
        if outcome.exit_code:
            return _crashed(container, outcome, policy, events, logs, init=True)
    logs: dict[str, str] = {}
    finished = True
    for container in spec.get("containers") or []:
        outcome = run_container(container, node, network, internet, container_gpus(container))
        logs[container["name"]] = outcome.logs
        if outcome.waiting:
            return _pull_failed(container, outcome, events, logs, init=False)
        if outcome.exit_code:
            return _crashed(container, outcome, policy, events, logs, init=False)
        finished = finished and not outcome.running
    events.append(f"Normal Started kubelet Started container "
                  f"{spec['containers'][0]['name']}")
    if finished:
        return PodResult("Completed", "Succeeded", events=events, logs=logs)
    return PodResult("Running", "Running", events=events, logs=logs)


def _pull_failed(container: dict, outcome: Outcome, events: list[str], logs: dict,
                 init: bool) -> PodResult:
    if outcome.waiting == CREATE_CONTAINER_ERROR:
        events += [f'Normal Pulled kubelet Container image "{container.get("image")}" '
                   f"already present on machine",
                   f"Warning Failed kubelet Error: {outcome.message}"]
        status = f"Init:{outcome.waiting}" if init else outcome.waiting
        return PodResult(status, "Pending", reason=outcome.waiting, message=outcome.message,
                         events=events, logs=logs)
    events += [f"Warning Failed kubelet {outcome.message}",
               "Warning Failed kubelet Error: ErrImagePull",
               f'Normal BackOff kubelet Back-off pulling image "{container.get("image")}"',
               "Warning Failed kubelet Error: ImagePullBackOff"]
    status = f"Init:{outcome.waiting}" if init else outcome.waiting
    return PodResult(status, "Pending", reason=outcome.waiting, message=outcome.message,
                     events=events, logs=logs)


def _crashed(container: dict, outcome: Outcome, policy: str, events: list[str], logs: dict,
             init: bool) -> PodResult:
    name = container["name"]
    message = outcome.logs.splitlines()[-1] if outcome.logs else ""
    if policy == "Never":
        status = "Init:Error" if init else "Error"
        return PodResult(status, "Failed", reason="Error",
                         message=f"container {name} exited with code {outcome.exit_code}: "
                                 f"{message}", events=events, logs=logs)
    events.append(f"Warning BackOff kubelet Back-off restarting failed container {name}")
    status = "Init:CrashLoopBackOff" if init else "CrashLoopBackOff"
    return PodResult(status, "Pending" if init else "Running", reason="CrashLoopBackOff",
                     message=f"container {name}: Last State Terminated, Reason Error, Exit "
                             f"Code {outcome.exit_code}: {message}",
                     events=events, logs=logs, restarts=5)
