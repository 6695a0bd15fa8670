"""The plugin the engine runs (`python -u provider/ ENGINE_ADDRESS`): it serves the components of
the checkout it sits in, whether added from a path or cloned from a git URL."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider import main  # noqa: E402

from provider import version  # noqa: E402
from provider.component_provider import MultusCniProvider  # noqa: E402

if __name__ == "__main__":
    main(MultusCniProvider(version()), sys.argv[1:])
