import gc

import pytest

from lab.render import remember_renders, render
from tests.helpers import stack_values

# Tests render the same stacks many times (the baselines, each fault alone); each
# (config, stack) is rendered once and handed out as a copy.
remember_renders()


@pytest.fixture(scope="session", autouse=True)
def renders_shared_by_the_workers(request, tmp_path_factory):
    """Under pytest-xdist each worker's temp directory lies in one of the run's own (which
    pytest prunes, keeping the last three runs): the workers share their renderings there."""
    if hasattr(request.config, "workerinput"):
        remember_renders(tmp_path_factory.getbasetemp().parent / "renders")
    # The first render imports the providers' SDKs (some 300,000 objects); moved out of the
    # cyclic garbage collector's reach, they are no longer walked by every full collection
    # the renders' short-lived futures trigger (a third of the suite's time otherwise).
    render(stack_values("dev"), stack="dev")
    gc.freeze()


@pytest.fixture(scope="session")
def dev():
    """The dev stack rendered once under Pulumi mocks."""
    return render(stack_values("dev"), stack="dev")


@pytest.fixture(scope="module", autouse=True)
def long_lived_objects_frozen():
    """What a module leaves behind for good (modules it imported, session fixtures) is frozen
    as well once its garbage is collected."""
    yield
    gc.collect()
    gc.freeze()
