import pytest

from lab.render import remember_renders, render
from tests.helpers import stack_values

# Tests render the same stacks many times (the baselines, each fault alone); each
# (config, stack) is rendered once per test process and handed out as a copy.
remember_renders()


@pytest.fixture(scope="session")
def dev():
    """The dev stack rendered once under Pulumi mocks."""
    return render(stack_values("dev"), stack="dev")
