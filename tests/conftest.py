"""Suite-wide settings, and the real servers that several suites share."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from bridgebot.lab.mail import Dovecot
from bridgebot.lab.synapse import Synapse

# In CI the property tests draw the same examples every run (a failure there is then
# reproducible, and a landing does not depend on luck); locally they explore new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


# One of each for the whole run, started by the first test that needs it: each suite makes
# its own users, rooms and mailboxes, and a Synapse start costs many seconds on 2 cores.
@pytest.fixture(scope="session")
def synapse() -> Iterator[Synapse]:
    server = Synapse()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.stop()
