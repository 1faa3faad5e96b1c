"""Resource options every component gives its children.

The engine does not pass a component's dependsOn on to the component's children: a child
waits for its parent's registration, not for what the parent was told to wait for. So a
Deployment inside a workload component would race its tenant's namespace, quota and
LimitRange. Children therefore get the component's dependencies themselves.
"""

from __future__ import annotations

from typing import Optional

import pulumi


def child_options(parent: pulumi.Resource, opts: Optional[pulumi.ResourceOptions],
                  *after: Optional[pulumi.Resource]) -> pulumi.ResourceOptions:
    """parent=parent; depends on what the component depends on, plus `after`."""
    inherited = pulumi.ResourceOptions(depends_on=opts.depends_on) if opts else None
    own = pulumi.ResourceOptions(parent=parent,
                                 depends_on=[r for r in after if r is not None])
    return pulumi.ResourceOptions.merge(inherited, own) if inherited else own
