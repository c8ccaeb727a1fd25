"""The email-list adapter: each room is a mailing list's posting address.

Mail goes out through SMTP (aiosmtplib) as ``"Author via Network" <bridge address>``;
mail comes in over IMAP with IDLE (aioimaplib) or through an SMTP/LMTP listener
(aiosmtpd). See :mod:`adapters.email.translate` and :mod:`adapters.email.render`.
"""

from __future__ import annotations

from adapters.base import AdapterSetup, NetworkSpec
from adapters.email.client import EmailAdapter
from adapters.email.translate import NETWORK
from adapters.settings import EmailSettings

__all__ = ["NETWORK", "SPEC", "EmailAdapter", "create"]


def create(setup: AdapterSetup) -> EmailAdapter:
    """Build the adapter for one ``[networks.email.NAME]`` account."""
    return EmailAdapter(setup)


SPEC = NetworkSpec(name=NETWORK, settings=EmailSettings, factory=create)
