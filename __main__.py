"""gpu-lab: one Pulumi stack is one interview environment.

stack config -> LabSpec (model/) -> faults applied (faults/) -> resources (components/).
"""

import pulumi
import pulumi.runtime.config

from components.lab import Lab
from faults import apply_faults
from model import load_spec
from model.source import engine_config

spec = apply_faults(load_spec(engine_config(pulumi.runtime.config.CONFIG.get()),
                              stack=pulumi.get_stack()))
lab = Lab("lab", spec)

for key, value in lab.outputs.items():
    pulumi.export(key, value)
