"""Offline render: run the real Pulumi program under mocks and record what it registers.

No Pulumi CLI, cloud account or cluster is needed. The result is the contract that
tests and `lab render` build on: one record per resource with its Pulumi type token,
logical name, parent and inputs exactly as the engine would receive them (camelCase).
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import importlib.abc
import json
import os
import pickle
import re
import runpy
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import pulumi
from pulumi.runtime import mocks, rpc, settings, stack as runtime_stack
from pulumi.runtime import resource as pulumi_resource_runtime
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.sync_await import _sync_await

from faults import build_spec
from model.source import PROJECT_DIR, as_engine_values

PROGRAM = PROJECT_DIR / "__main__.py"
# Offline renders need some project id; a real `pulumi up` still demands gcp:project.
PLACEHOLDER_PROJECT = "gpu-lab-offline"
# How a secret value appears in a rendering (the engine would see it encrypted).
SECRET = "$secret"


@dataclass(frozen=True)
class RenderedResource:
    type: str
    name: str
    parent: Optional[str]          # "type::name" of the parent component, None under the stack
    inputs: dict[str, Any]
    provider: str = ""             # URN::id of the explicit provider, if any (not in JSON)
    # The resource options the engine acts on (dependsOn as "type::name", ignoreChanges,
    # protect, ...); only the ones that are set.
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "parent": self.parent,
                "inputs": self.inputs, "options": self.options}


@dataclass
class Rendering:
    resources: list[RenderedResource]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[RenderedResource]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str, type_token: Optional[str] = None) -> RenderedResource:
        matches = [r for r in self.resources
                   if r.name == name and type_token in (None, r.type)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r} of type {type_token}")
        return matches[0]

    def kubernetes_objects(self) -> list[dict[str, Any]]:
        """The Kubernetes objects the stack would create, as the API server would see them."""
        return [r.inputs for r in self.resources
                if r.type.startswith("kubernetes:") and "kind" in r.inputs
                and r.type != "kubernetes:helm.sh/v3:Release"]

    def check_objects(self) -> list[dict[str, Any]]:
        """The Kubernetes objects, plus what the symptom checks need from resources that are
        not Kubernetes objects: Helm releases (kind HelmRelease, their values) and GCP
        firewall rules (kind GcpFirewall)."""
        extra = []
        for r in self.resources:
            if r.type == "kubernetes:helm.sh/v3:Release":
                extra.append({"kind": "HelmRelease", "metadata": {
                    "name": r.inputs.get("name"), "namespace": r.inputs.get("namespace")},
                    "spec": {k: r.inputs.get(k) for k in ("chart", "version", "values")}})
            elif r.type == "gcp:compute/firewall:Firewall":
                extra.append({"kind": "GcpFirewall", "metadata": {"name": r.inputs.get("name")},
                              "spec": r.inputs})
        return self.kubernetes_objects() + extra

    def children(self, parent: RenderedResource) -> list[RenderedResource]:
        key = f"{parent.type}::{parent.name}"
        return [r for r in self.resources if r.parent == key]


class _Mocks(pulumi.runtime.Mocks):
    """Resources echo their inputs back, plus the few outputs GCP would compute."""

    def __init__(self):
        super().__init__()
        # Each registration's deserialized inputs, by thread, for the monitor to record: the
        # monitor would otherwise deserialize every request a second time.
        self.last_inputs = threading.local()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.last_inputs.value = args.inputs
        state = dict(args.inputs)
        if args.typ == "gcp:container/cluster:Cluster":
            state.setdefault("endpoint", "203.0.113.10")
            state.setdefault("masterAuth", {"clusterCaCertificate": "Q0EtQ0VSVElGSUNBVEU="})
        if args.typ == "gcp:serviceaccount/account:Account":
            state.setdefault("email", f"{args.inputs.get('accountId')}@"
                                      f"{args.inputs.get('project')}.iam.gserviceaccount.com")
        if args.typ == "random:index/randomPassword:RandomPassword":
            state.setdefault("result", "offline-render-password")
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class _RecordingMonitor(mocks.MockMonitor):
    """A mock monitor that also keeps each registration's parent and inputs, in order."""

    def __init__(self, mock: pulumi.runtime.Mocks):
        super().__init__(mock)
        self.lock = threading.Lock()
        # urn, type, name, parent urn, inputs, provider reference, options
        self.records: list[tuple[str, str, str, str, dict, str, dict]] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = self.mocks.last_inputs.value     # set by new_resource on this thread
            with self.lock:
                self.records.append((response.urn, request.type, request.name,
                                     request.parent, _plain(inputs), request.provider,
                                     _options(request)))
        return response

    def RegisterResourceOutputs(self, request):
        if "::pulumi:pulumi:Stack::" in request.urn:
            outputs = _plain(rpc.deserialize_properties(request.outputs))
            if outputs:
                self.stack_outputs = outputs
        return super().RegisterResourceOutputs(request)


def _options(request) -> dict[str, Any]:
    """The options of one registration that change what the engine does, when set."""
    options = {
        "dependsOn": sorted(request.dependencies),
        "ignoreChanges": list(request.ignoreChanges),
        "replaceOnChanges": list(request.replaceOnChanges),
        "protect": request.protect,
        "deleteBeforeReplace": request.deleteBeforeReplace,
        "retainOnDelete": request.retainOnDelete,
    }
    return {key: value for key, value in options.items() if value}


def _plain(value: Any) -> Any:
    """Inputs as JSON-able data: secrets as {"$secret": value}, unknowns marked."""
    if isinstance(value, dict):
        # The SDK's own wire marker for secrets (pulumi.runtime.rpc); no public name exists.
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return {SECRET: _plain(value.get("value"))}
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is rpc.UNKNOWN or value == rpc.UNKNOWN:
        return "<computed>"
    return value


# While a candidate's program runs here (lab apply, verify --handout), this project's
# packages the handout does not ship (the fault catalog, the tooling) cannot be imported and
# credentials are out of the environment. A guard against reaching for them, not a sandbox:
# code can still open files by path, which is why `lab apply` prints the diff first.
SECRET_ENV = re.compile(r"PASSPHRASE|TOKEN|SECRET|PASSWORD|CREDENTIAL|_KEY$|^GOOGLE_|"
                        r"^CLOUDSDK_|^AWS_|^KUBECONFIG$")


class _Unreachable(importlib.abc.MetaPathFinder):
    def __init__(self, names: set[str]):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


@contextmanager
def _packages_of(project_dir: Optional[Path]) -> Iterator[None]:
    """Imports of the packages in `project_dir` (model, components, ...) resolve there while
    the program runs, not to this project's modules of the same names, and this project's
    other packages are out of reach; afterwards the modules that were loaded before, and the
    environment, are back in place."""
    if project_dir is None:
        yield
        return
    project_dir = Path(project_dir).resolve()
    names = {p.name for p in project_dir.iterdir() if (p / "__init__.py").is_file()}
    ours = {p.name for p in PROJECT_DIR.iterdir() if (p / "__init__.py").is_file()} - names

    def hidden(module: str) -> bool:
        return module.partition(".")[0] in names | ours

    saved = {name: module for name, module in sys.modules.items() if hidden(name)}
    for name in saved:
        del sys.modules[name]
    secrets = {k: v for k, v in os.environ.items() if SECRET_ENV.search(k)}
    for key in secrets:
        del os.environ[key]
    guard = _Unreachable(ours)
    sys.meta_path.insert(0, guard)
    sys.path.insert(0, str(project_dir))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(project_dir))
        sys.meta_path.remove(guard)
        os.environ.update(secrets)
        for name in [name for name in sys.modules if hidden(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


# A rendering of this project's own program depends on the stack name and config alone. A
# process that renders the same stack many times (the test suite, across its modules) turns
# the memo on and is handed a copy of the first rendering each time; off by default. With a
# directory, renderings are also shared there with other processes of the same run (the
# suite's workers): whoever renders a (config, stack) first leaves it for the others.
_memo: Optional[dict[str, bytes]] = None
_shared: Optional[Path] = None


def remember_renders(shared: Optional[Path] = None) -> None:
    """Render each (config, stack) of this project's program once in this process (and, with
    `shared`, once among the processes that share that directory)."""
    global _memo, _shared
    if _memo is None:
        _memo = {}
    if shared is not None:
        shared.mkdir(parents=True, exist_ok=True)
        _shared = shared


def render(values: Mapping[str, Any], stack: str = "dev", program: Optional[Path] = None,
           project_dir: Optional[Path] = None) -> Rendering:
    """Run the program for these config values; raises ConfigError before registering anything.

    By default the program is this project's __main__.py. `program` and `project_dir` run
    another copy of a gpu-lab program (a candidate's handout): its packages are imported from
    `project_dir` (by default the program's directory), and its own `model.load_spec` checks
    the config first."""
    if _memo is None or program is not None or project_dir is not None:
        return _render(values, stack, program, project_dir)
    key = json.dumps([values, stack], sort_keys=True, default=repr)
    if key not in _memo:
        _memo[key] = _shared_render(key, lambda: _render(values, stack, None, None))
    return pickle.loads(_memo[key])     # a copy of its own (faster than copy.deepcopy)


def _shared_render(key: str, make) -> bytes:
    """The pickled rendering, made here or by another process that shares the directory."""
    if _shared is None:
        return pickle.dumps(make())
    path = _shared / f"{hashlib.sha256(key.encode()).hexdigest()}.pickle"
    try:
        data = path.read_bytes()
        pickle.loads(data)
        return data
    except (OSError, EOFError, pickle.UnpicklingError):
        pass
    data = pickle.dumps(make())
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    partial.write_bytes(data)
    os.replace(partial, path)          # whole or not at all, for a reader in another process
    return data


def _render(values: Mapping[str, Any], stack: str, program: Optional[Path],
            project_dir: Optional[Path]) -> Rendering:
    values = dict(values)
    values.setdefault("gcp:project", PLACEHOLDER_PROJECT)
    if program is None and project_dir is not None:
        program = Path(project_dir) / "__main__.py"
    if program is None:
        program = PROGRAM
        build_spec(values, stack=stack)  # fail on bad config before any mock is set up
        _sdks_frozen()
    else:
        project_dir = Path(project_dir or Path(program).parent)
        with _packages_of(project_dir):
            importlib.import_module("model").load_spec(values, stack=stack)

    monitor = _RecordingMonitor(_Mocks())
    pulumi.runtime.set_all_config(as_engine_values(values))
    settings.set_root_resource(None)
    pulumi.runtime.set_mocks(monitor.mocks, project="gpu-lab", stack=stack, preview=False,
                             monitor=monitor)
    # set_mocks opens (and closes) a stack of its own; run the program in a fresh one so
    # its exports are registered like under `pulumi up`.
    settings.set_root_resource(None)
    try:
        with _packages_of(project_dir), _without_source_positions():
            _sync_await(runtime_stack.run_in_stack(
                lambda: runpy.run_path(str(program), run_name="__pulumi_program__")))
    finally:
        settings.set_root_resource(None)
        pulumi.runtime.set_all_config({})

    names = {urn: f"{type_}::{name}" for urn, type_, name, *_ in monitor.records}
    resources = [RenderedResource(type=type_, name=name, parent=names.get(parent),
                                  inputs=inputs, provider=provider,
                                  options=_named_dependencies(options, names))
                 for _, type_, name, parent, inputs, provider, options in monitor.records]
    return Rendering(resources=_tree_order(resources), outputs=monitor.stack_outputs)


_frozen = False


def _sdks_frozen() -> None:
    """Once per process, the program's imports (the providers' SDKs, some 300,000 objects)
    are moved out of the cyclic garbage collector's reach: its full collections, which the
    render's many short-lived futures trigger, would walk them all each time (a fifth of a
    `gpu-lab render`)."""
    global _frozen
    if not _frozen:
        import components.lab  # noqa: F401 - the program's imports
        gc.collect()
        gc.freeze()
        _frozen = True


@contextmanager
def _without_source_positions() -> Iterator[None]:
    """The SDK walks the Python stack at every registration to tell the engine where in the
    program a resource was declared; the mocks have no use for it, and it costs a sixth of a
    render."""
    saved = pulumi_resource_runtime._get_stack_trace
    pulumi_resource_runtime._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        pulumi_resource_runtime._get_stack_trace = saved


def _named_dependencies(options: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    if "dependsOn" in options:
        options = {**options, "dependsOn": sorted(names.get(urn, urn)
                                                  for urn in options["dependsOn"])}
    return options


def _tree_order(resources: list[RenderedResource]) -> list[RenderedResource]:
    """Parents before children, siblings by type and name: the same order on every run
    (registration order depends on thread scheduling)."""
    by_parent: dict[Optional[str], list[RenderedResource]] = {}
    for resource in resources:
        by_parent.setdefault(resource.parent, []).append(resource)
    ordered: list[RenderedResource] = []
    pending = sorted(by_parent.get(None, []), key=lambda r: (r.type, r.name), reverse=True)
    while pending:
        resource = pending.pop()
        ordered.append(resource)
        kids = by_parent.get(f"{resource.type}::{resource.name}", [])
        pending.extend(sorted(kids, key=lambda r: (r.type, r.name), reverse=True))
    return ordered
