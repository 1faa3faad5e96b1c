"""gpu-lab: one Pulumi stack is one interview environment.

stack config -> LabSpec (model/) -> faults applied (faults/) -> resources (components/).
"""

import pulumi
import pulumi.runtime.config

import faults
from components.lab import Lab
from model.errors import ConfigError
from model.source import engine_config

try:
    spec = faults.build_spec(engine_config(pulumi.runtime.config.CONFIG.get()),
                             stack=pulumi.get_stack())
except ConfigError as err:
    # `pulumi up` shows a RunError as its message alone, without the program's traceback.
    raise pulumi.RunError(str(err)) from None
lab = Lab("lab", spec)

for key, value in lab.outputs.items():
    pulumi.export(key, value)
pulumi.export("faults", faults.outputs(spec))
