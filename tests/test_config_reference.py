"""The configuration reference (docs/configuration.md, linked from the README) and the model
agree: every key the model reads is documented, and every key the reference names is one the
model reads. The model says which keys it knows itself: an unknown field in each object is
refused with the list of known ones."""

from __future__ import annotations

import re

from model import load_spec
from model.config import gcp_provider_keys
from model.errors import ConfigError
from model.source import PROJECT_DIR

# The README points at the reference; the reference is the page it points at.
REFERENCE_LINK = "docs/configuration.md"
REFERENCE_PAGE = PROJECT_DIR / REFERENCE_LINK
REFERENCE = REFERENCE_PAGE.read_text()
PROBE = {"zzz": 1}


def model_keys() -> set[str]:
    """Every key the model reads, as `gpu-lab:cluster.network.subnetCidr` or
    `gpu-lab:gpuPools[].name`."""
    values = {
        "gcp:project": "p", "gpu-lab:zzz": 1,
        "gpu-lab:cluster": {**PROBE, "network": dict(PROBE)},
        "gpu-lab:systemPool": dict(PROBE),
        "gpu-lab:gpuPools": [{"name": "t4", **PROBE}],
        "gpu-lab:addons": {**PROBE, "gpuOperator": dict(PROBE), "monitoring": dict(PROBE)},
        "gpu-lab:tenants": [{"name": "tenant-a", **PROBE, "roleBindings": [
            {"name": "x", "role": "tenant-admin", "groups": ["g"], **PROBE}]}],
        "gpu-lab:workload": dict(PROBE),
        "gpu-lab:workloads": [{"tenant": "tenant-a", **PROBE}],
        "gpu-lab:candidate": dict(PROBE),
    }
    try:
        load_spec(values)
    except ConfigError as err:
        problems = err.problems
    keys = {"gcp:project", "gcp:region"}
    for problem in problems:
        known = re.search(r"known (?:keys|fields): (.*)$", problem.allowed)
        assert known, problem
        parent = re.sub(r"\[\d+\]", "[]", problem.key.rsplit(".", 1)[0]
                        if problem.key != "gpu-lab:zzz" else "gpu-lab")
        joiner = ":" if parent == "gpu-lab" else "."
        keys |= {f"{parent}{joiner}{name}" for name in known.group(1).split(", ")}
    return keys


def reference_keys() -> set[str]:
    """The keys named in the first column of the configuration reference table."""
    section = REFERENCE.split("\n## Reference\n", 1)[1].split("\n## ", 1)[0]
    table = section.split("| key |", 1)[1].split("\n\n", 1)[0]
    keys = set()
    for row in table.splitlines():
        if not row.startswith("| `"):
            continue
        cell = row.split("|")[1]
        names = re.findall(r"`([^`]+)`", cell)
        prefix = ""
        for name in names:
            if name.startswith(("gpu-lab:", "gcp:")) or re.match(r"\w+\[\]\.", name):
                prefix = name.rsplit(".", 1)[0] + "." if "." in name else ""
                keys.add(name)
            else:                       # `a.b` / `c`: c shares a's parent
                keys.add(prefix + name)
    return {key if key.startswith(("gpu-lab:", "gcp:")) else f"gpu-lab:{key}" for key in keys}


def _table_after(heading: str) -> list[str]:
    section = REFERENCE.split(f"\n{heading}\n", 1)[1]
    table = section.split("\n| field |", 1)[1].split("\n\n", 1)[0]
    return ["| field |" + table.splitlines()[0], *table.splitlines()[1:]]


# Tenant and workload fields have their own tables; a role binding's fields are listed in
# the reference row of roleBindings.
_role_bindings = [row for row in REFERENCE.splitlines()
                  if row.startswith("| `tenants[].roleBindings`")]
OWN_TABLES = {
    "gpu-lab:tenants[]": _table_after("## Tenants"),
    "gpu-lab:workloads[]": _table_after("## Workloads"),
    "gpu-lab:workload": _table_after("## Workloads"),
    "gpu-lab:tenants[].roleBindings[]": [
        "|" + ", ".join(f"`{f}`" for f in re.findall(r"\w+", row.split("|", 2)[2])) + "|"
        for row in _role_bindings],
}


def test_the_readme_links_the_reference():
    readme = (PROJECT_DIR / "README.md").read_text()
    assert f"]({REFERENCE_LINK})" in readme, (
        f"the README does not link the configuration reference, {REFERENCE_LINK}")


def test_every_key_in_the_reference_is_read_by_the_model():
    from faults.config import KEYS as INTERVIEWER_KEYS
    known = model_keys() | set(INTERVIEWER_KEYS) | {
        f"gcp:{key}" for key in gcp_provider_keys()}
    stale = sorted(reference_keys() - known - {"gpu-lab:gpuPools", "gpu-lab:tenants"})
    assert not stale, (
        f"{REFERENCE_LINK} documents keys the model does not read: {stale}")


def test_every_key_the_model_reads_is_documented():
    """In the reference table, or (tenant and workload fields) in their own tables."""
    documented = reference_keys()
    read = model_keys()
    # An object is documented through its fields.
    leaves = {key for key in read if not any(other.startswith((key + ".", key + "[]."))
                                             for other in read)}
    missing = []
    for key in sorted(leaves):
        parent, _, field = key.rpartition(".")
        in_own_table = parent in OWN_TABLES and any(
            f"`{field}`" in row.split("|")[1] for row in OWN_TABLES[parent])
        if key not in documented and not in_own_table:
            missing.append(key)
    assert not missing, (
        f"the model reads keys {REFERENCE_LINK} does not document: {missing}")
