"""The `multus-cni` policy pack: `pulumi preview --policy-pack policy` (see README "Policy guard").

The rules live in multus_policies.py and import the project's `components` package, which sits
one folder up: both folders go on sys.path, whatever directory the CLI starts the pack from.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from multus_policies import POLICIES  # noqa: E402

PolicyPack(name="multus-cni", policies=POLICIES, enforcement_level=EnforcementLevel.ADVISORY)
