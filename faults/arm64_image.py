"""A workload runs an image built for arm64 on amd64 GPU nodes."""

from faults import edit, parts
from faults.base import Fault, Param
from faults.evidence import stopped
from kube.images import ARM64_PYTHON

# One platform's manifest (linux/arm64), pinned by digest: containerd pulls it on amd64
# nodes and the kernel then refuses to run it. A tag such as arm64v8/python:3.11-slim is an
# index without an amd64 entry and fails earlier, at the pull.
ARM64_IMAGE = ARM64_PYTHON


def inject(spec, workload, image):
    edit.workload_pool(spec, edit.find_workload(spec, workload))
    # The config keeps declaring amd64, as a team that pushed the wrong build would; what the
    # image really is shows only when a node pulls and runs it.
    return edit.workload(spec, workload, image=image)


def details(spec, workload, image):
    return {**edit.workload_names(spec, workload),
            "status": promised_status(spec, workload, image)}


def promised_status(spec, workload, image) -> str:
    """What the workload's pods show on its pool's nodes. An index without the nodes'
    platform fails the pull everywhere; one platform's manifest is pulled, and then the
    nodes' containerd decides (kube/kubelet.py, foreign_manifest: unpacked and run, exec
    format error, on GKE's containerd 2.0 and on kind; refused at CreateContainer by
    containerd 2.2.2 and later pulling through the transfer service)."""
    from kube.images import image as lookup
    from kube.kubelet import CREATE_CONTAINER_ERROR, foreign_manifest
    from kube.nodes import ARCH_LABEL, nodes_from_spec
    from model.spec import POOL_LABEL
    pool = edit.find_workload(spec, workload).pool
    nodes = [n for n in nodes_from_spec(spec) if n["metadata"]["labels"].get(POOL_LABEL) == pool]
    img = lookup(image)
    arches = {n["metadata"]["labels"].get(ARCH_LABEL, "amd64") for n in nodes}
    if any(not img.resolves_for(arch) for arch in arches):
        return "Init:ImagePullBackOff"
    foreign = [n for n in nodes
               if not img.runs_on(n["metadata"]["labels"].get(ARCH_LABEL, "amd64"))]
    if foreign and all(foreign_manifest(n) == CREATE_CONTAINER_ERROR for n in foreign):
        return f"Init:{CREATE_CONTAINER_ERROR}"
    return edit.crash_status(init=True)


FAULT = Fault(
    id="arm64-image",
    title="{workload} runs an arm64 image on amd64 nodes",
    part=parts.SCENARIO_1,
    layer="workload",
    params=(Param("workload", "workload", "tenant-a/infer", "the workload whose image is wrong"),
            Param("image", "text", ARM64_IMAGE, "an image published for arm64 only")),
    task="A workload in {tenant} keeps failing right after it starts. Find out why and fix its "
         "spec.",
    symptom="kubectl get pods -n {tenant}\n"
            "{name}-...   0/1   {status}\n"
            "kubectl logs -n {tenant} <pod> -c install-deps --previous\n"
            "exec /usr/local/bin/python: exec format error\n"
            "(the image is one platform's manifest, pinned by digest, so it pulls and then "
            "cannot run; an arm64-only tag such as arm64v8/python would fail at the pull "
            "instead: ErrImagePull, no match for platform in manifest. GKE's nodes run "
            "containerd 2.0, which unpacks the arm64 layers and runs them; containerd 2.2.2 "
            "and later, pulling through its transfer service, would refuse to create the "
            "container instead: CreateContainerError)",
    hints=("'exec format error' comes from the kernel, not from Python. What kind of binary "
           "would a node refuse to execute?",
           "Compare the image's platform (docker manifest inspect / crane config) with the "
           "nodes' kubernetes.io/arch label.",
           "The image is {image}, published for linux/arm64; every GPU node here is amd64."),
    fix="Point the workload back at an amd64 (or multi-arch) image, e.g. the default PyTorch "
        "runtime image or one built with `docker build --platform linux/amd64`; apply it "
        "(`gpu-lab apply`).",
    look_for="Recognises exec format error as an architecture mismatch; checks node architecture "
             "(kubectl get nodes -L kubernetes.io/arch); knows multi-arch images and "
             "--platform builds; considers a nodeSelector on kubernetes.io/arch as a guard.",
    check="image-arch-mismatch",
    inject=inject,
    targets=lambda spec, workload, image: {f"workload:{workload}"},
    details=details,
    pod_status="{status}",
    edits=lambda spec, workload, image: {f"image:{workload}"},
    # Its pods fail to pull or to start (which one depends on the nodes: promised_status,
    # too costly to work out for every config the model checks).
    evidence=lambda spec, workload, image: {f"status image-failure of {workload}"},
    hides=lambda spec, workload, image: stopped(workload),
)
