import pytest

from lab.render import render
from tests.helpers import stack_values


@pytest.fixture(scope="session")
def dev():
    """The dev stack rendered once under Pulumi mocks."""
    return render(stack_values("dev"), stack="dev")
