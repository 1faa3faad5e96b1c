"""What a stack costs per hour on Google Cloud: a dated price table and a pure estimate.

The estimate is arithmetic on the spec (model/spec.py), nothing else: every pool's nodes x
(its machine type, Spot or on-demand as the pool is configured, + the GPUs attached to an N1
node + its pd-balanced boot disk), plus GKE's cluster management fee. Two figures:

- idle: every pool at its minNodes (the system pool and the GPU pools): what a stack costs
  while nobody uses it, once the autoscaler has scaled it down;
- full: every pool at its maxNodes: the most the autoscaler may run (what `lab preflight`
  checks the quotas for).

Not counted: Cloud NAT (gateway and processed data), network egress, Cloud Logging and
Monitoring beyond their free allotments, sustained-use or committed-use discounts, taxes.
The GKE free tier ($74.40 of credit a month per billing account) pays the fee of one zonal
cluster; the estimate counts the fee for every stack.

The table is for us-central1 only. Another region is said to be missing, with what the stack
would cost at us-central1's prices for scale, never a guessed price. A price the table lacks
is named ("not in the table"); a Spot price it lacks is counted at the on-demand price, an
upper bound (Spot is a discount on it), and said so.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Optional

from model.spec import LabSpec

# -- the price table ------------------------------------------------------------------------

# Google's pricing pages state monthly prices as 730 hours.
HOURS_PER_MONTH = 730
# The boot disk type of every gpu-lab pool (components/cluster.py, components/gpu_node_pool.py).
NODE_DISK_TYPE = "pd-balanced"

PRICES_AS_OF = "2026-07-30"     # the date of the Cloud Billing Catalog prices below
READ_ON = "2026-12-07"          # when they were read into this table
SOURCES = (
    # Machine types, on-demand and Spot, and pd-balanced: Google's published SKU prices for
    # us-central1 as the Cloud Billing Catalog API gives them (the source of the pricing pages
    # below), as of PRICES_AS_OF. They were read from the pricing.yml that
    # Cyclenerd/google-cloud-pricing-cost-calculator generates from that API every week
    # (commit fd66b26, "generated: Thu Jul 30 06:13:17 2026"), not copied from the pages by
    # hand; spot checks against the pages: n1-standard-4 $0.189999/h, a2-highgpu-1g
    # $3.673385/h. G2, A2 and A3 prices include the GPUs those machine types carry.
    "https://cloud.google.com/compute/vm-instance-pricing",
    "https://cloud.google.com/compute/all-pricing",
    "https://cloud.google.com/spot-vms/pricing",
    "https://cloud.google.com/compute/disks-image-pricing",
    "https://cloud.google.com/billing/v1/how-tos/catalog-api",
    "https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator/blob/"
    "fd66b26ff84fee5cdd94f341ea89206e76c06b99/pricing.yml",
    # GPUs attached to N1 nodes: the SKU "Nvidia Tesla T4 GPU running in Americas" at
    # USD 0.35 an hour (350,000,000 nanos). Its Spot SKU was not found in a dated source.
    "https://cloud.google.com/compute/gpus-pricing",
    # GKE Standard: a cluster management fee of $0.10 per cluster per hour, zonal or
    # regional; the free tier's $74.40 monthly credit per billing account covers one zonal
    # (or Autopilot) cluster.
    "https://cloud.google.com/kubernetes-engine/pricing",
)


@dataclass(frozen=True)
class RegionPrices:
    region: str
    # machine type -> (on-demand, Spot) USD an hour; G2, A2 and A3 include their GPUs
    machines: Mapping[str, tuple[float, Optional[float]]]
    # GPUs attached to N1 machine types: accelerator -> (on-demand, Spot) USD per GPU-hour
    attached_gpus: Mapping[str, tuple[Optional[float], Optional[float]]]
    disk_gb_month: Mapping[str, float]          # disk type -> USD per GB-month
    cluster_fee_hour: float                     # GKE cluster management fee


US_CENTRAL1 = RegionPrices(
    region="us-central1",
    machines={
        # A2 (A100 40GB: highgpu, megagpu; A100 80GB: ultragpu) and A3 (H100 80GB)
        "a2-highgpu-1g": (3.673385, 1.92802),
        "a2-highgpu-2g": (7.34677, 3.85604),
        "a2-highgpu-4g": (14.69354, 7.71208),
        "a2-highgpu-8g": (29.38708, 15.42416),
        "a2-megagpu-16g": (55.739504, 29.25568),
        "a2-ultragpu-1g": (5.06879789, 2.7595463),
        "a2-ultragpu-2g": (10.13759578, 5.5190926),
        "a2-ultragpu-4g": (20.27519156, 11.03818521),
        "a2-ultragpu-8g": (40.55038312, 22.07637041),
        "a3-highgpu-1g": (11.06124999, 6.3261926),
        "a3-highgpu-2g": (22.12249998, 12.65238521),
        "a3-highgpu-4g": (44.24499995, 25.30477041),
        "a3-highgpu-8g": (88.4899999, 50.60954082),
        # E2
        "e2-micro": (0.00837643, 0.0050265),
        "e2-small": (0.01675286, 0.010053),
        "e2-medium": (0.03350571, 0.020106),
        "e2-highcpu-2": (0.04947024, 0.029688),
        "e2-highcpu-4": (0.09894048, 0.059376),
        "e2-highcpu-8": (0.19788096, 0.118752),
        "e2-highcpu-16": (0.39576192, 0.237504),
        "e2-highcpu-32": (0.79152384, 0.475008),
        "e2-highmem-2": (0.09039966, 0.054244),
        "e2-highmem-4": (0.18079932, 0.108488),
        "e2-highmem-8": (0.36159864, 0.216976),
        "e2-highmem-16": (0.72319728, 0.433952),
        "e2-standard-2": (0.06701142, 0.040212),
        "e2-standard-4": (0.13402284, 0.080424),
        "e2-standard-8": (0.26804568, 0.160848),
        "e2-standard-16": (0.53609136, 0.321696),
        "e2-standard-32": (1.07218272, 0.643392),
        # G2 (NVIDIA L4)
        "g2-standard-4": (0.70683226, 0.397336),
        "g2-standard-8": (0.85362427, 0.479872),
        "g2-standard-12": (1.00041629, 0.562408),
        "g2-standard-16": (1.1472083, 0.644944),
        "g2-standard-24": (2.00083257, 1.124816),
        "g2-standard-32": (1.73437637, 0.975088),
        "g2-standard-48": (4.00166515, 2.249632),
        "g2-standard-96": (8.0033303, 4.499264),
        # N1 (T4s attach to these)
        "n1-highcpu-2": (0.0708486, 0.0249892),
        "n1-highcpu-4": (0.1416972, 0.0499784),
        "n1-highcpu-8": (0.2833944, 0.0999568),
        "n1-highcpu-16": (0.5667888, 0.1999136),
        "n1-highcpu-32": (1.1335776, 0.3998272),
        "n1-highcpu-64": (2.2671552, 0.7996544),
        "n1-highcpu-96": (3.4007328, 1.1994816),
        "n1-highmem-2": (0.118303, 0.041722),
        "n1-highmem-4": (0.236606, 0.083444),
        "n1-highmem-8": (0.473212, 0.166888),
        "n1-highmem-16": (0.946424, 0.333776),
        "n1-highmem-32": (1.892848, 0.667552),
        "n1-highmem-64": (3.785696, 1.335104),
        "n1-highmem-96": (5.678544, 2.002656),
        "n1-standard-1": (0.04749975, 0.0167525),
        "n1-standard-2": (0.0949995, 0.033505),
        "n1-standard-4": (0.189999, 0.06701),
        "n1-standard-8": (0.379998, 0.13402),
        "n1-standard-16": (0.759996, 0.26804),
        "n1-standard-32": (1.519992, 0.53608),
        "n1-standard-64": (3.039984, 1.07216),
        "n1-standard-96": (4.559976, 1.60824),
        # N2, N2D
        "n2-highcpu-2": (0.071696, 0.034),
        "n2-highcpu-4": (0.143392, 0.068),
        "n2-highcpu-8": (0.286784, 0.136),
        "n2-highcpu-16": (0.573568, 0.272),
        "n2-highcpu-32": (1.147136, 0.544),
        "n2-highcpu-48": (1.720704, 0.816),
        "n2-highcpu-64": (2.294272, 1.088),
        "n2-highcpu-80": (2.86784, 1.36),
        "n2-highcpu-96": (3.441408, 1.632),
        "n2-highmem-2": (0.131014, 0.06214),
        "n2-highmem-4": (0.262028, 0.12428),
        "n2-highmem-8": (0.524056, 0.24856),
        "n2-highmem-16": (1.048112, 0.49712),
        "n2-highmem-32": (2.096224, 0.99424),
        "n2-highmem-48": (3.144336, 1.49136),
        "n2-highmem-64": (4.192448, 1.98848),
        "n2-highmem-80": (5.24056, 2.4856),
        "n2-highmem-96": (6.288672, 2.98272),
        "n2-highmem-128": (7.706976, 3.65536),
        "n2-standard-2": (0.097118, 0.04606),
        "n2-standard-4": (0.194236, 0.09212),
        "n2-standard-8": (0.388472, 0.18424),
        "n2-standard-16": (0.776944, 0.36848),
        "n2-standard-32": (1.553888, 0.73696),
        "n2-standard-48": (2.330832, 1.10544),
        "n2-standard-64": (3.107776, 1.47392),
        "n2-standard-80": (3.88472, 1.8424),
        "n2-standard-96": (4.661664, 2.21088),
        "n2-standard-128": (6.215552, 2.94784),
        "n2d-standard-2": (0.084492, 0.024456),
        "n2d-standard-4": (0.168984, 0.048912),
        "n2d-standard-8": (0.337968, 0.097824),
        "n2d-standard-16": (0.675936, 0.195648),
        "n2d-standard-32": (1.351872, 0.391296),
        "n2d-standard-48": (2.027808, 0.586944),
        "n2d-standard-64": (2.703744, 0.782592),
        "n2d-standard-80": (3.37968, 0.97824),
        "n2d-standard-96": (4.055616, 1.173888),
        "n2d-standard-128": (5.407488, 1.565184),
        "n2d-standard-224": (9.463104, 2.739072),
    },
    # The only GPU the model attaches (to N1) is the T4; L4, A100 40GB/80GB and H100 come in
    # their G2, A2 and A3 machine types' prices above. V100, P100 and P4 are not in the model's
    # catalog (model/gpu_catalog.py) and not in this table.
    attached_gpus={"nvidia-tesla-t4": (0.35, None)},
    disk_gb_month={"pd-balanced": 0.10},
    cluster_fee_hour=0.10,
)

PRICE_TABLE: dict[str, RegionPrices] = {US_CENTRAL1.region: US_CENTRAL1}
REFERENCE_REGION = US_CENTRAL1.region


# -- the estimate ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Amount:
    """USD an hour, with what it leaves out (prices not in the table: the amount is less than
    the truth by those) and what it overstates (Spot prices counted at on-demand ones)."""
    usd: float
    missing: tuple[str, ...] = ()
    ceilings: tuple[str, ...] = ()

    def __add__(self, other: "Amount") -> "Amount":
        return Amount(self.usd + other.usd, _union(self.missing, other.missing),
                      _union(self.ceilings, other.ceilings))

    def times(self, count: float) -> "Amount":
        if count == 0:
            return Amount(0.0)        # nothing runs: nothing to price, nothing missing
        return Amount(self.usd * count, self.missing, self.ceilings)

    @property
    def exact(self) -> bool:
        return not self.missing and not self.ceilings

    def short(self, digits: int = 4) -> str:
        """For a table cell: $0.4307, with * (a ceiling) and +? (prices not in the table)."""
        return f"${self.usd:.{digits}f}" + ("*" if self.ceilings else "") + \
            ("+?" if self.missing else "")

    def text(self, unit: str = "/h", digits: int = 2) -> str:
        """In words: $0.24/h, at most $1.38/h, $0.40/h + prices not in the table."""
        figure = f"${self.usd:.{digits}f}{unit}"
        if self.ceilings:
            figure = f"at most {figure}"
        if self.missing:
            figure += " + prices not in the table"
        return figure

    def to_json(self) -> dict[str, Any]:
        return {"usd": round(self.usd, 6), "not_in_table": list(self.missing),
                "at_on_demand_price": list(self.ceilings)}


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(item for item in b if item not in a)


@dataclass(frozen=True)
class PoolCost:
    name: str
    machine_type: str
    gpus: str                  # "1 x nvidia-tesla-t4" (attached) or "1 x nvidia-l4 (in the
    #                            machine type)", "" for the system pool
    spot: bool
    disk_gb: int
    min_nodes: int
    max_nodes: int
    node: Amount               # one node, an hour: machine + attached GPUs + boot disk

    @property
    def idle(self) -> Amount:
        return self.node.times(self.min_nodes)

    @property
    def full(self) -> Amount:
        return self.node.times(self.max_nodes)

    def to_json(self) -> dict[str, Any]:
        return {"pool": self.name, "machine_type": self.machine_type, "gpus": self.gpus,
                "spot": self.spot, "boot_disk_gb": self.disk_gb, "min_nodes": self.min_nodes,
                "max_nodes": self.max_nodes, "per_node": self.node.to_json(),
                "idle": self.idle.to_json(), "full": self.full.to_json()}


@dataclass(frozen=True)
class Estimate:
    stack: str
    region: str                       # the stack's gcp:region
    priced_as: Optional[str]          # the table's region whose prices are used (None: no GCP)
    pools: tuple[PoolCost, ...]
    cluster_fee: Amount
    notes: tuple[str, ...] = field(default=())

    @property
    def in_table(self) -> bool:
        """The stack's own region is in the table (or it creates nothing in GCP)."""
        return self.priced_as is None or self.priced_as == self.region

    @property
    def region_note(self) -> str:
        """Why the figures are not the region's own, or ""."""
        if self.in_table:
            return ""
        return (f"region {self.region} is not in the price table (lab/cost.py has "
                f"{', '.join(sorted(PRICE_TABLE))}); at {self.priced_as} prices, for scale only")

    @property
    def idle(self) -> Amount:
        return sum((p.idle for p in self.pools), self.cluster_fee)

    @property
    def full(self) -> Amount:
        return sum((p.full for p in self.pools), self.cluster_fee)

    def to_json(self) -> dict[str, Any]:
        return {"region": self.region, "priced_as": self.priced_as,
                "region_in_table": self.in_table, "prices_as_of": PRICES_AS_OF,
                "region_note": self.region_note,
                "pools": [p.to_json() for p in self.pools],
                "cluster_fee": self.cluster_fee.to_json(),
                "idle_per_hour": self.idle.to_json(), "full_per_hour": self.full.to_json(),
                "notes": list(self.notes)}


def _machine(prices: RegionPrices, machine_type: str, spot: bool) -> tuple[float, list, list]:
    """(USD an hour, missing, ceilings) of one node's machine type."""
    pair = prices.machines.get(machine_type)
    if pair is None:
        return 0.0, [f"machine type {machine_type} in {prices.region}"], []
    on_demand, spot_price = pair
    if not spot:
        return on_demand, [], []
    if spot_price is None:
        return on_demand, [], [f"{machine_type} Spot at its on-demand ${on_demand:g}/h"]
    return spot_price, [], []


def _attached(prices: RegionPrices, accelerator: str, count: int,
              spot: bool) -> tuple[float, list, list]:
    on_demand, spot_price = prices.attached_gpus.get(accelerator, (None, None))
    if on_demand is None:
        return 0.0, [f"GPU {accelerator} in {prices.region}"], []
    if not spot:
        return count * on_demand, [], []
    if spot_price is None:
        return count * on_demand, [], [f"{accelerator} Spot at its on-demand "
                                       f"${on_demand:g}/h per GPU"]
    return count * spot_price, [], []


def _disk(prices: RegionPrices, size_gb: int) -> tuple[float, list, list]:
    per_gb_month = prices.disk_gb_month.get(NODE_DISK_TYPE)
    if per_gb_month is None:
        return 0.0, [f"{NODE_DISK_TYPE} disks in {prices.region}"], []
    return size_gb * per_gb_month / HOURS_PER_MONTH, [], []


def node_price(prices: RegionPrices, machine_type: str, spot: bool, disk_gb: int,
               accelerator: Optional[str] = None, gpus: int = 0) -> Amount:
    """One node an hour: its machine type (Spot or not), the GPUs attached to it (N1) and its
    boot disk (Spot does not discount disks)."""
    parts = [_machine(prices, machine_type, spot), _disk(prices, disk_gb)]
    if accelerator and gpus and machine_type.startswith("n1-"):
        parts.append(_attached(prices, accelerator, gpus, spot))
    return Amount(sum(p[0] for p in parts), tuple(m for p in parts for m in p[1]),
                  tuple(c for p in parts for c in p[2]))


def estimate(spec: LabSpec, table: Mapping[str, RegionPrices] = PRICE_TABLE) -> Estimate:
    """What the stack costs an hour, pool by pool, at its minimum and maximum sizes."""
    region = spec.gcp.region
    if spec.platform != "gke":
        return Estimate(spec.stack, region, None, (), Amount(0.0), (
            f"gpu-lab:platform {spec.platform} creates nothing in GCP: no cloud cost",))
    prices = table.get(region) or table[REFERENCE_REGION]
    system = spec.system_pool
    pools = [PoolCost(system.name, system.machine_type, "", system.spot, system.disk_size_gb,
                      system.min_nodes, system.max_nodes,
                      node_price(prices, system.machine_type, system.spot,
                                 system.disk_size_gb))]
    for pool in spec.gpu_pools:
        attached = pool.machine_type.startswith("n1-")
        gpus = f"{pool.gpus_per_node} x {pool.accelerator}" + \
            ("" if attached else " (in the machine type)")
        pools.append(PoolCost(pool.name, pool.machine_type, gpus, pool.spot, pool.disk_size_gb,
                              pool.min_nodes, pool.max_nodes,
                              node_price(prices, pool.machine_type, pool.spot,
                                         pool.disk_size_gb, pool.accelerator,
                                         pool.gpus_per_node)))
    return Estimate(spec.stack, region, prices.region, tuple(pools),
                    Amount(prices.cluster_fee_hour))


def accrued(estimate_: Estimate, since: datetime, now: datetime) -> Amount:
    """What the stack has cost since `since` at its idle rate (every pool at minNodes)."""
    hours = max(0.0, (now - since).total_seconds() / 3600)
    return estimate_.idle.times(hours) if hours else Amount(0.0)


# -- output ---------------------------------------------------------------------------------

FOOTNOTE_CEILING = "* a Spot price the table lacks, counted at the on-demand price (an upper bound)"
FOOTNOTE_MISSING = "+? leaves out a price the table lacks"
WIDTH = 96


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent="  ", break_on_hyphens=False)


def lines(est: Estimate) -> list[str]:
    """The estimate as a table for `lab preflight` and `lab new`."""
    if est.priced_as is None:
        return ["Cost: " + "; ".join(est.notes)]
    if est.in_table:
        head = f"Cost per hour ({est.region} list prices of {PRICES_AS_OF}, lab/cost.py):"
    else:
        head = f"Cost per hour: {est.region_note} ({PRICES_AS_OF}):"
    rows = [(p.name, str(p.min_nodes) if p.min_nodes == p.max_nodes else
             f"{p.min_nodes}-{p.max_nodes}", p.machine_type, p.gpus or "-",
             "spot" if p.spot else "on-demand", p.node.short(), p.idle.short(), p.full.short())
            for p in est.pools]
    rows.append(("GKE cluster fee", "", "", "", "", "", est.cluster_fee.short(),
                 est.cluster_fee.short()))
    header = ("POOL", "NODES", "MACHINE", "GPUS", "PRICING", "PER NODE", "IDLE (MIN)",
              "FULL (MAX)")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {5, 6, 7}

    def fmt(row):
        return "  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                         for i, (cell, w) in enumerate(zip(row, widths))).rstrip()

    out = [*_wrap(head), fmt(header), *(fmt(r) for r in rows)]
    total = "total" if est.in_table else f"total at {est.priced_as} prices"
    out.append(f"{total}: idle {est.idle.text()}, full {est.full.text()}")
    notes = ["idle: every pool at its minNodes (between interviews, once scaled down); full: "
             "every pool at its maxNodes. Per node: the machine type, the GPUs attached to it "
             f"and its {NODE_DISK_TYPE} boot disk."]
    if est.full.ceilings:
        notes.append(f"{FOOTNOTE_CEILING}: {'; '.join(est.full.ceilings)}. Spot prices change "
                     "as often as daily.")
    if est.full.missing:
        notes.append(f"{FOOTNOTE_MISSING}: {'; '.join(est.full.missing)}.")
    notes.extend(est.notes)
    notes.append("Not counted: Cloud NAT, network egress, logging and monitoring beyond the "
                 "free allotments, discounts. GKE's free tier ($74.40 a month per billing "
                 "account) pays the fee of one zonal cluster.")
    for note in notes:
        out.extend(_wrap(note))
    return out
