"""The benchmarks' verdicts (bench/targets.py): met or MISSED next to each figure that has a
target, judged as the figure is printed. Nothing here times anything."""

import pytest

from bench.targets import MET, MISSED, RATIO, Target, figure, no_target


def test_a_missed_target_says_so_next_to_the_figure():
    assert figure("render dev (whole process)", 3.86, "s", Target(3.0, "s")) == \
        "render dev (whole process): 3.860 s  target < 3 s: MISSED"
    assert figure("render dev (whole process)", 2.4, "s", Target(3.0, "s")) == \
        "render dev (whole process): 2.400 s  target < 3 s: met"


@pytest.mark.parametrize("value, verdict", [
    (2.999, MET),
    (2.9994, MET),         # prints 2.999
    (2.9996, MISSED),      # prints 3.000: the line never reads "3.000 s  target < 3 s: met"
    (3.0, MISSED),         # "under 3 s": 3 s itself misses
    (3.001, MISSED),
])
def test_under_a_limit_the_limit_itself_misses(value, verdict):
    assert Target(3.0, "s").verdict(value) == f"target < 3 s: {verdict}"
    assert Target(3.0, "s").met(value) is (verdict == MET)


@pytest.mark.parametrize("value, verdict", [(1.49, MET), (1.5, MET), (1.504, MET),
                                            (1.506, MISSED), (1.51, MISSED)])
def test_at_most_a_limit_the_limit_itself_meets(value, verdict):
    flat = Target(1.5, RATIO, inclusive=True)
    line = figure("cost per tenant, 30->100 vs 3->30", value, RATIO, flat, digits=2)
    assert line.endswith(f"x  target <= 1.5x: {verdict}")


def test_a_figure_without_a_target_is_the_figure_alone():
    assert figure("import", 0.81234, "s") == "import: 0.812 s"
    assert figure("render pairing (whole process)", 4.0, "s", None, note="median") == \
        "render pairing (whole process): 4.000 s median"
    assert no_target("samples/s") == "samples/s: no target set (figures only)"


def test_the_benchmarks_targets():
    """bench/render.py: the dev stack's whole process under 3 s; bench/tenants.py: 100
    tenants under 10 s, and a flat cost per tenant."""
    from bench import render, tenants

    assert render.WHOLE_PROCESS == {"dev": Target(3.0, "s")}
    assert tenants.TIME_TARGETS == {100: Target(10.0, "s")}
    lines = tenants.flat_cost([("3->30", 40.0), ("30->100", 80.0)])
    assert lines == ["cost per tenant, 30->100 vs 3->30: 2.00x (80.0 vs 40.0 ms/tenant)  "
                     "target <= 1.5x: MISSED"]
    assert tenants.flat_cost([("3->30", 40.0), ("30->100", 44.0)])[0].endswith(": met")
    assert tenants.flat_cost([("3->30", 40.0)]) == []
    assert tenants.flat_cost([("3->30", -1.0), ("30->100", 44.0)])[0].endswith(
        ": cannot tell")
