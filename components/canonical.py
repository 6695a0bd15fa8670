"""One serialisation for every JSON we emit, so the same config always yields the same bytes.

Pulumi shows a JSON string that changed only in key order or spacing as an update
(pulumi/pulumi#18554), so every NAD config, annotation and render goes through here.
"""

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    """A short, stable fingerprint of a JSON-able value (used as a replacement trigger)."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:16]
