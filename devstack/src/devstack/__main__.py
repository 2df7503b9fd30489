"""``python -m devstack`` is ``uv run devstack``."""

import sys

from devstack.cli import main

sys.exit(main())
