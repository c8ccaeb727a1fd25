"""``python -m bridgebot.cli``: the same as the ``bridgebot`` command."""

from __future__ import annotations

import sys

from bridgebot.cli.main import main

sys.exit(main())
