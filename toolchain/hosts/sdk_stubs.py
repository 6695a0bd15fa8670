"""The SDK's gRPC stubs without the SDK, for the language hosts: `import sdk_stubs` first.

A host needs only `pulumi.runtime.proto`, and `import pulumi` builds the whole SDK (0.2 s of CPU,
twice per CLI run: the engine starts one host to list plugins and another to run the program).
Never imported where a program or a test runs: `pulumi` would then be this empty shell. (The
Node.js host, run by few commands, imports the SDK as it is.)
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types

if "pulumi" not in sys.modules:
    _root = list(importlib.util.find_spec("pulumi").submodule_search_locations)
    for _name, _path in (("pulumi", _root), ("pulumi.runtime", [os.path.join(_root[0], "runtime")])):
        _package = types.ModuleType(_name)
        _package.__path__ = _path
        sys.modules[_name] = _package
