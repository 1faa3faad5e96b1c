"""The candidate's login (components/candidate_access.py), proven on the rendered pairing and
all-faults stacks: every kubectl command the candidate is given (the brief, the pairing
exercise's tasks, each fault's symptom) is allowed to ServiceAccount gpu-lab-candidate/
candidate, and the forbidden list (secrets, RBAC writes, escalate/bind, impersonation of
anyone, exec into the platform's pods) is denied. tests/test_escalation.py follows every
path from the login to other identities."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
import yaml

from components.candidate_access import PROMETHEUS_POD, PROMETHEUS_SERVICE
from faults import build_spec, enabled
from kube import ObjectSet, Subject, can_i
from kube.rbac import can_impersonate, impersonated
from lab.guide import candidate_brief
from lab.render import render
from model import ConfigError, load_spec
from model.config import CANDIDATE_ACCOUNT, CANDIDATE_NAMESPACE
from tests.helpers import stack_values

ME = Subject.service_account(CANDIDATE_NAMESPACE, CANDIDATE_ACCOUNT)
STACKS = ("pairing", "all-faults")
ACCESS = "gpu-lab:access:CandidateAccess"

# The pairing exercise's commands (seeds/000, parts 1-3), verbatim; checked against the seed
# file itself when it is at hand (test_seed_commands_are_quoted_verbatim).
SEED_FILE = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_8394ccb6274fe691.txt"
SEED_TEXT = """\
1. Check if GPU nodes are provisioned & labeled correctly (`kubectl get nodes -o wide`).
2. Validate that NVIDIA drivers & GPU Operator are installed (`kubectl get pods -n gpu-operator`).
3. Confirm that GPUs are discoverable (`kubectl describe node`, `nvidia-smi`).
3. Apply Terraform changes and verify (`terraform apply` + `kubectl get namespaces, resourcequotas`).
"""


# -- kubectl commands -> RBAC checks ----------------------------------------------------------

ALIASES = {
    "po": "pods", "pod": "pods", "no": "nodes", "node": "nodes", "ns": "namespaces",
    "namespace": "namespaces", "deploy": "deployments", "deployment": "deployments",
    "rs": "replicasets", "replicaset": "replicasets", "ds": "daemonsets",
    "daemonset": "daemonsets", "svc": "services", "service": "services", "ep": "endpoints",
    "quota": "resourcequotas", "resourcequota": "resourcequotas", "limits": "limitranges",
    "limitrange": "limitranges", "netpol": "networkpolicies", "networkpolicy": "networkpolicies",
    "job": "jobs", "role": "roles", "rolebinding": "rolebindings", "clusterrole": "clusterroles",
    "clusterrolebinding": "clusterrolebindings", "sa": "serviceaccounts",
    "serviceaccount": "serviceaccounts", "ev": "events", "event": "events",
    "servicemonitor": "servicemonitors", "podmonitor": "podmonitors",
    "prometheusrule": "prometheusrules", "pc": "priorityclasses",
    "priorityclass": "priorityclasses", "clusterpolicy": "clusterpolicies",
    "subjectaccessreview": "subjectaccessreviews",
}
KNOWN = set(ALIASES.values())
CLUSTER_SCOPED = {"nodes", "namespaces", "clusterroles", "clusterrolebindings",
                  "priorityclasses", "clusterpolicies", "subjectaccessreviews"}
VALUE_FLAGS = {"-n", "--namespace", "-o", "--output", "-l", "--selector", "-L",
               "--label-columns", "-c", "--container", "--image", "--restart", "--as",
               "--as-group", "--field-selector", "--tail", "--since", "-f", "--filename"}
# kubectl port-forward svc/NAME goes to a pod the Service selects: the pod RBAC is asked about.
SERVICE_PODS = {("monitoring", PROMETHEUS_SERVICE): PROMETHEUS_POD}
BOOL_FLAGS = {"-A", "--all-namespaces", "-w", "--watch", "--previous", "-p", "--show-labels",
              "--no-headers", "-i", "-t", "-it", "--rm"}


@dataclass(frozen=True)
class Check:
    command: str
    verb: str = ""
    resource: str = ""
    namespace: Optional[str] = None          # None: cluster-wide
    as_user: Optional[str] = None            # a question about someone else when set
    as_groups: tuple[str, ...] = ()
    name: Optional[str] = None               # the object RBAC is asked about, when named

    def answer(self, objects: ObjectSet):
        if self.as_user is not None:
            return ask_about(objects, self.as_user, self.as_groups)
        return can_i(objects, ME, self.verb, self.resource, self.namespace, name=self.name)

    def __str__(self) -> str:
        if self.as_user is not None:
            return f"ask about {self.as_user} {list(self.as_groups)}  <- {self.command}"
        named = f" {self.name}" if self.name else ""
        return f"{self.verb} {self.resource}{named} in {self.namespace or 'all namespaces'}" \
               f"  <- {self.command}"


def ask_about(objects: ObjectSet, user: str, groups: tuple[str, ...]):
    """`kubectl auth can-i ... --as=user --as-group=g`: a question about someone else. The
    login impersonates no one (whoever it became could do what they do), so the question is
    asked as a SubjectAccessReview, which the login may create; the literal --as form is
    refused (test_questions_about_others_go_through_subject_access_reviews)."""
    direct = can_impersonate(objects, ME, user, groups)
    assert not direct, f"the login impersonates {user} {groups}: {direct.reason}"
    return can_i(objects, ME, "create", "subjectaccessreviews")


def kubectl_commands(text: str) -> list[str]:
    """Every kubectl command in a text: inline `code`, and lines that start with kubectl (a
    symptom's command, a brief's code block; a here-document that follows (<<EOF) is kept
    with it, after a newline). A line that names kubectl some other way fails, so no command
    goes unchecked."""
    found: list[str] = []
    lines = iter(text.splitlines())
    for line in lines:
        inline = [c for c in re.findall(r"`([^`]*)`", line) if c.strip().startswith("kubectl ")]
        if line.strip().startswith("kubectl "):
            command = line.strip()
            heredoc = re.search(r"<<-?\s*'?(\w+)'?", command)
            if heredoc:
                body = []
                for more in lines:
                    if more.strip() == heredoc.group(1):
                        break
                    body.append(more)
                command += "\n" + "\n".join(body)
            inline.append(command)
        assert inline or not re.search(r"\bkubectl\s+-?[a-z]", line), \
            f"cannot tell the command: {line}"
        found += [c for c in inline if c not in found]
    return found


def _command_part(command: str) -> str:
    """The command without what follows it: a comment, a pipe, output after two spaces, a
    here-document."""
    line = command.strip().splitlines()[0]
    return re.split(r"\s#|\s\||\s{2,}|\s<<", line)[0]


def _resource(word: str) -> str:
    base = word.split("/")[0].lower()
    resource = ALIASES.get(base, base)
    assert resource in KNOWN, f"unknown resource {word!r}: add it to ALIASES"
    return resource


def parse(command: str, default_namespace: str) -> list[Check]:
    """`kubectl <verb> <resource> [-n NS | -A] ...` -> what the API server authorizes."""
    try:
        tokens = shlex.split(_command_part(command))
    except ValueError:
        tokens = _command_part(command).split()
    assert tokens[0] == "kubectl", command
    flags: dict[str, list[str]] = {}
    words: list[str] = []
    rest = iter(tokens[1:])
    for token in rest:
        if token == "--":                           # the container's command follows
            break
        if token.startswith("-"):
            name, equals, value = token.partition("=")
            if name in VALUE_FLAGS:
                flags.setdefault(name, []).append(value if equals else next(rest))
            else:
                assert name in BOOL_FLAGS, f"unknown flag {name} in {command!r}"
                flags.setdefault(name, []).append("")
            continue
        if words and words[-1].endswith(","):       # `get namespaces, resourcequotas`
            words[-1] += token
        else:
            words.append(token)
    namespace = (flags.get("-n") or flags.get("--namespace") or [default_namespace])[-1]
    if "-A" in flags or "--all-namespaces" in flags:
        namespace = None
    verb, args = words[0], words[1:]

    def at(resource: str) -> Optional[str]:
        return None if resource in CLUSTER_SCOPED else namespace

    def check(verb: str, resource: str, where: Optional[str] = "") -> Check:
        return Check(command, verb, resource, at(resource) if where == "" else where)

    user = (flags.get("--as") or [None])[-1]
    groups = tuple(flags.get("--as-group") or ())
    if user is not None or groups:
        # The request is made as someone else: what the candidate needs is to be them.
        return [Check(command, as_user=user, as_groups=groups)]
    if verb == "auth":
        assert args[0] == "can-i", command
        return []        # SelfSubjectAccessReview: every authenticated user may ask
    if verb in ("get", "describe"):
        checks = []
        for word in args[0].rstrip(",").split(","):
            resource = _resource(word)
            checks += [check("get", resource), check("list", resource)]
            if "-w" in flags or "--watch" in flags:
                checks.append(check("watch", resource))
            if verb == "describe":
                checks.append(check("list", "events", None if resource in CLUSTER_SCOPED
                                    else namespace))
                if resource == "nodes":      # the pods on the node, from every namespace
                    checks.append(check("list", "pods", None))
        return checks
    if verb == "logs":
        kind = _resource(args[0]) if "/" in args[0] else "pods"
        owner = [] if kind == "pods" else [check("get", kind), check("list", "pods")]
        return owner + [check("get", "pods"), check("get", "pods/log")]
    if verb == "exec":
        return [check("get", "pods"), check("create", "pods/exec")]
    if verb == "port-forward":
        kind = _resource(args[0]) if "/" in args[0] else "pods"
        owner = [] if kind == "pods" else [check("get", kind), check("list", "pods")]
        target = args[0].split("/")[-1]
        pod = SERVICE_PODS.get((namespace, target)) if kind == "services" else target
        return owner + [check("get", "pods"),
                        Check(command, "create", "pods/portforward", at("pods"), name=pod)]
    if verb == "run":
        return [check("create", "pods")]
    if verb == "create":
        if "-f" in flags or "--filename" in flags:      # the kind is in the document
            kinds = re.findall(r"^kind:\s*(\w+)", command, re.MULTILINE)
            assert kinds, f"no kind in the document of {command!r}"
            return [check("create", _resource(k)) for k in kinds]
        return [check("create", _resource(args[0]))]
    if verb == "top":
        return [check("list", _resource(args[0]), None if _resource(args[0]) == "nodes"
                      else namespace)]
    raise AssertionError(f"no RBAC mapping for `kubectl {verb}` ({command!r}): add one")


# -- the stacks --------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=STACKS)
def stack(request):
    values = stack_values(request.param)
    spec = build_spec(values, stack=request.param)
    rendering = render(values, stack=request.param)
    return request.param, spec, rendering, ObjectSet(rendering.kubernetes_objects())


def default_namespace(spec) -> str:
    """Where kubectl without -n goes: the namespace the candidate's kubeconfig starts in."""
    return spec.candidate_tenant or CANDIDATE_NAMESPACE


def sources(spec) -> dict[str, str]:
    """Every text that gives the candidate commands, by where it comes from."""
    texts = {"brief": candidate_brief(spec), "seed": SEED_TEXT}
    for fault, params in enabled(spec):
        texts[f"symptom of {fault.id}"] = fault.describe(params, spec)["symptom"]
    return texts


def checks_for(spec) -> dict[str, list[Check]]:
    found = {}
    for source, text in sources(spec).items():
        checks = [c for command in kubectl_commands(text)
                  for c in parse(command, default_namespace(spec))]
        if "nvidia-smi" in text:      # runs where the GPUs are: GPU pods of the tenants
            checks += [Check("nvidia-smi", "create", "pods/exec", t.namespace)
                       for t in spec.tenants]
        found[source] = checks
    return found


def test_every_stack_and_source_gives_commands(stack):
    name, spec, _, _ = stack
    assert spec.candidate_login, f"{name} must create the candidate's login"
    found = checks_for(spec)
    for source, checks in found.items():
        assert checks, f"{source}: no kubectl command found"
    assert {s for s in found if s.startswith("symptom of")} == \
        {f"symptom of {f.id}" for f, _ in enabled(spec)}


def test_every_command_the_candidate_is_given_is_allowed(stack):
    name, spec, _, objects = stack
    denied = [f"{source}: {check}: {answer.reason}"
              for source, checks in checks_for(spec).items() for check in checks
              if not (answer := check.answer(objects))]
    assert not denied, "\n".join(denied)


def test_seed_commands_are_quoted_verbatim():
    if not SEED_FILE.exists():
        pytest.skip("the exercise documents are not next to the project")
    assert kubectl_commands(SEED_FILE.read_text()) == kubectl_commands(SEED_TEXT)


# -- what the login may never do ---------------------------------------------------------------

def namespaces(objects: ObjectSet) -> list[str]:
    return sorted(set(objects.namespaces()) | {"default", "kube-system", "kube-public",
                                                CANDIDATE_NAMESPACE})


def test_no_secrets_anywhere(stack):
    _, _, _, objects = stack
    for namespace in [None, *namespaces(objects)]:
        for verb in ("get", "list", "watch", "create", "update", "delete"):
            answer = can_i(objects, ME, verb, "secrets", namespace)
            assert not answer, f"{verb} secrets in {namespace}: {answer.reason}"


def test_no_rbac_writes_escalate_or_bind(stack):
    _, _, _, objects = stack
    for namespace in [None, *namespaces(objects)]:
        for resource in ("roles", "rolebindings", "clusterroles", "clusterrolebindings"):
            for verb in ("create", "update", "patch", "delete", "deletecollection",
                         "escalate", "bind"):
                answer = can_i(objects, ME, verb, resource, namespace)
                assert not answer, f"{verb} {resource} in {namespace}: {answer.reason}"


def test_impersonates_no_one(stack):
    """Whoever the login became could do what they do: a tenant's admins hold Secrets,
    RoleBindings and ServiceAccounts in their namespace. So it becomes no one: no user, no
    group (the tenants' own included), no service account, no extra, no uid."""
    _, spec, _, objects = stack
    accounts = [("kube-system", "default"), ("gpu-operator", "gpu-operator"),
                ("monitoring", "kube-prometheus-stack-grafana"),
                (CANDIDATE_NAMESPACE, CANDIDATE_ACCOUNT)]
    accounts += [(t.namespace, sa) for t in spec.tenants
                 for sa in ("workload", "default", "job-submitter")]
    for namespace, account in accounts:
        answer = can_impersonate(objects, ME, f"system:serviceaccount:{namespace}:{account}")
        assert not answer, answer.reason
    groups = [g for t in spec.tenants for g in t.admin_groups + t.developer_groups]
    groups += ["system:masters", "system:serviceaccounts", "system:nodes",
               "system:authenticated", "system:serviceaccounts:kube-system"]
    for user in ("dev@example.com", "system:admin", "system:kube-controller-manager",
                 "admin@example.com", "system:anonymous"):
        assert not can_impersonate(objects, ME, user), user
        for group in groups:
            answer = can_impersonate(objects, ME, user, (group,))
            assert not answer, answer.reason
    assert not can_impersonate(objects, ME, "dev@example.com", extras={"scopes": ["view"]})
    assert not can_impersonate(objects, ME, "dev@example.com", uid="1234")
    for resource in ("users", "groups", "serviceaccounts", "userextras/scopes", "uids"):
        for namespace in [None, *namespaces(objects)]:
            group = "authentication.k8s.io" if resource in ("uids", "userextras/scopes") else ""
            assert not can_i(objects, ME, "impersonate", resource, namespace, name="anyone",
                             api_group=group), (resource, namespace)


def test_deploys_and_execs_only_where_the_exercise_needs(stack):
    _, spec, _, objects = stack
    tenants = {t.namespace for t in spec.tenants}
    for namespace in namespaces(objects):
        for verb, resource in (("create", "pods"), ("create", "deployments"),
                               ("delete", "jobs"), ("create", "pods/exec"),
                               ("create", "pods/attach"), ("get", "pods/exec")):
            assert bool(can_i(objects, ME, verb, resource, namespace)) is (namespace in tenants), \
                (verb, resource, namespace)
        port_forward = namespace in tenants
        assert bool(can_i(objects, ME, "create", "pods/portforward", namespace)) is port_forward
    # In monitoring, the Prometheus pod only: not node-exporter (host network), Grafana, the
    # operator or kube-state-metrics.
    assert can_i(objects, ME, "create", "pods/portforward", "monitoring", name=PROMETHEUS_POD)
    for pod in ("kube-prometheus-stack-prometheus-node-exporter-x7k2p",
                "kube-prometheus-stack-grafana-5d8f7c9b6-abcde",
                "kube-prometheus-stack-operator-6b9f8d7c5-fghij",
                "alertmanager-kube-prometheus-stack-alertmanager-0"):
        assert not can_i(objects, ME, "create", "pods/portforward", "monitoring", name=pod)
    # In gpu-operator (privileged operands: node root), nothing but reading.
    for verb, resource in (("create", "pods/exec"), ("get", "pods/exec"),
                           ("create", "pods/attach"), ("create", "pods/portforward"),
                           ("patch", "pods/ephemeralcontainers"), ("create", "pods")):
        assert not can_i(objects, ME, verb, resource, "gpu-operator"), (verb, resource)
    for verb in ("create", "delete", "patch"):
        for resource in ("nodes", "namespaces", "resourcequotas", "networkpolicies",
                         "configmaps", "servicemonitors", "serviceaccounts"):
            assert not can_i(objects, ME, verb, resource, "tenant-a"), (verb, resource)
    assert not can_i(objects, ME, "get", "configmaps", "monitoring")
    for namespace in [None, *namespaces(objects)]:
        assert not can_i(objects, ME, "create", "serviceaccounts/token", namespace)
        assert not can_i(objects, ME, "get", "nodes/proxy", namespace)


def test_questions_about_others_go_through_subject_access_reviews(stack):
    """`kubectl auth can-i ... --as=dev@example.com --as-group=<group>` (the seed's form) is
    refused to the login, since it impersonates no one; the same question as a
    SubjectAccessReview, which the brief and the RBAC fault's symptom show, is one the login
    may send, and its promised answer is the one RBAC gives (the subject as the API server
    authenticates it: the user, its groups and system:authenticated)."""
    _, spec, _, objects = stack
    assert can_i(objects, ME, "create", "subjectaccessreviews")
    literal = [check for checks in checks_for(spec).values() for check in checks
               if check.as_user is not None]
    for fault, params in enabled(spec):
        if fault.id != "rbac-cross-tenant-read":
            continue
        symptom = fault.describe(params, spec)["symptom"]
        [sar] = [c for c in kubectl_commands(symptom) if "SubjectAccessReview" in c]
        assert [str(c).split("  <-")[0] for c in parse(sar, default_namespace(spec))] == \
            ["create subjectaccessreviews in all namespaces"]
        review = yaml.safe_load(sar.split("\n", 1)[1])["spec"]
        asked = Subject(user=review["user"],
                        groups=(*review["groups"], "system:authenticated"))
        question = review["resourceAttributes"]
        assert "allowed: true" in symptom
        assert can_i(objects, asked, question["verb"], question["resource"],
                     question["namespace"])
    for check in literal:
        assert not can_impersonate(objects, ME, check.as_user, check.as_groups)
        asked = impersonated(check.as_user, check.as_groups)
        assert asked.groups[-1] == "system:authenticated"
    brief = candidate_brief(spec)
    assert "kind: SubjectAccessReview" in brief and "--as" not in brief
    [sar] = [c for c in kubectl_commands(brief) if "SubjectAccessReview" in c]
    assert [str(c).split("  <-")[0] for c in parse(sar, default_namespace(spec))] == \
        ["create subjectaccessreviews in all namespaces"]


# -- the component and the config key ------------------------------------------------------------

def test_login_is_a_component_with_children(stack):
    _, spec, rendering, objects = stack
    [access] = rendering.of_type(ACCESS)
    children = rendering.children(access)
    kinds = sorted(c.inputs.get("kind") for c in children)
    # a RoleBinding per tenant namespace, and a Role and its binding in monitoring
    assert kinds == sorted(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRole",
                            "ClusterRoleBinding", "Role"]
                           + ["RoleBinding"] * (len(spec.tenants) + 1))
    assert all(c.name.startswith(access.name + "-") for c in children)
    assert all(c.inputs["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "gpu-lab"}
               for c in children if c.inputs.get("kind") != "Namespace")
    assert objects.get("ServiceAccount", CANDIDATE_ACCOUNT, CANDIDATE_NAMESPACE) is not None
    binding = objects.get("ClusterRoleBinding", "gpu-lab-candidate")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": CANDIDATE_ACCOUNT,
                                    "namespace": CANDIDATE_NAMESPACE}]
    account = [c for c in children if c.inputs.get("kind") == "ServiceAccount"][0]
    assert account.options.get("deleteBeforeReplace") is True   # `lab reset` replaces it


def test_no_login_unless_configured():
    dev = render(stack_values("dev"), stack="dev")
    assert not dev.of_type(ACCESS)
    # the default never depends on faults: all-faults without the key has no login
    values = stack_values("all-faults")
    del values["gpu-lab:candidate"]
    assert build_spec(values, stack="all-faults").candidate_login is False


def test_login_follows_the_add_ons():
    values = stack_values("dev", **{"gpu-lab:candidate": {"login": True},
                                    "gpu-lab:addons": {"monitoring": {"enabled": False}}})
    objects = ObjectSet(render(values, stack="dev").kubernetes_objects())
    assert objects.get("Role", "gpu-lab-candidate", "monitoring") is None
    assert objects.get("Role", "gpu-lab-candidate", "gpu-operator") is None
    assert not can_i(objects, ME, "create", "pods/portforward", "monitoring",
                     name=PROMETHEUS_POD)
    assert can_i(objects, ME, "list", "nodes")


def test_no_deploying_into_a_tenant_that_admits_privileged_pods():
    """A tenant at podSecurity privileged admits pods that own their node: the login reads
    it but deploys nothing there, and gets no exec, attach or port-forward there."""
    values = stack_values("dev", **{"gpu-lab:candidate": {"login": True},
                                    "gpu-lab:tenants": [{"name": "tenant-a",
                                                         "podSecurity": "privileged"},
                                                        {"name": "tenant-b",
                                                         "podSecurity": "baseline"}]})
    objects = ObjectSet(render(values, stack="dev").kubernetes_objects())
    for verb, resource in (("create", "pods"), ("create", "deployments"),
                           ("create", "pods/exec"), ("create", "pods/portforward")):
        assert not can_i(objects, ME, verb, resource, "tenant-a"), (verb, resource)
        assert can_i(objects, ME, verb, resource, "tenant-b"), (verb, resource)
    assert can_i(objects, ME, "list", "pods", "tenant-a")


def test_login_config_is_validated():
    base = {"gcp:project": "p"}
    assert load_spec({**base, "gpu-lab:candidate": {"login": True}}).candidate_login
    with pytest.raises(ConfigError, match=r"candidate\.login"):
        load_spec({**base, "gpu-lab:candidate": {"login": "yes please"}})
    with pytest.raises(ConfigError, match="namespace of the candidate's login"):
        load_spec({**base, "gpu-lab:candidate": {"login": True},
                   "gpu-lab:tenants": ["tenant-a", CANDIDATE_NAMESPACE]})
    with pytest.raises(ConfigError, match=r"candidate\.tenant"):
        load_spec({**base, "gpu-lab:candidate": {"tenant": "tenant-z"}})
    spec = load_spec({**base, "gpu-lab:candidate": {"login": True, "tenant": "tenant-b"}})
    assert spec.candidate_tenant == "tenant-b"
    # the login is its own namespace now: no tenant gets extra accounts or bindings
    assert all(not t.extra_service_accounts for t in spec.tenants)
    assert all(b.name != "candidate" for t in spec.tenants for b in t.role_bindings)


def test_no_rule_names_impersonation_or_tokens():
    """Not even by name: the login's roles hold no impersonate verb and no token request."""
    from components.candidate_access import MONITORING_RULES, READ_RULES, TENANT_RULES
    for rule in READ_RULES + TENANT_RULES + MONITORING_RULES:
        assert "impersonate" not in rule["verbs"] and "*" not in rule["verbs"], rule
        assert not {"secrets", "serviceaccounts/token", "*", "pods/ephemeralcontainers"} \
            & set(rule["resources"]), rule
        assert "*" not in rule["apiGroups"], rule
