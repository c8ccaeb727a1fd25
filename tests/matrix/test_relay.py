"""No tests here any more: Matrix relaying is the contract suite's (tests/contract).

This module only keeps ``config`` where tests/matrix/test_process_crash.py imports it from;
delete it once that test imports ``config`` from tests/matrix/conftest.py.
"""

from __future__ import annotations

from tests.matrix.conftest import config

__all__ = ["config"]
