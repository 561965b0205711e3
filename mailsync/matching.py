"""Which addresses of a message may point at CRM records, and which way it went.

The Odoo side looks the keys returned here up in indexed columns (contacts'
primary and secondary addresses, leads' email): this module decides, without
a database, what is worth looking up. A message between colleagues only, or
with automated senders only, yields no key and is never stored.
"""

import dataclasses

from .addresses import Exclusions, normalize

RECEIVED = "received"
SENT = "sent"


@dataclasses.dataclass(frozen=True)
class Scope:
    """Whose addresses are not customers: the mailbox owner's own addresses,
    the company's domains, and the exclusion list (``noreply@*``, domains...)."""

    own_addresses: frozenset = frozenset()
    internal_domains: frozenset = frozenset()
    exclusions: Exclusions = dataclasses.field(default_factory=Exclusions)

    @classmethod
    def build(cls, own_addresses=(), internal_domains=(), exclusions=()):
        own = frozenset(filter(None, (normalize(address) for address in own_addresses)))
        domains = frozenset(
            filter(None, (normalize(f"x@{domain.strip().lstrip('@')}") for domain in internal_domains if domain))
        )
        return cls(own, frozenset(key.split("@", 1)[1] for key in domains), Exclusions(exclusions))

    def is_external(self, key):
        return (
            bool(key)
            and key not in self.own_addresses
            and key.rsplit("@", 1)[1] not in self.internal_domains
            and not self.exclusions.matches(key)
        )


def external_keys(headers, scope):
    """The matching keys of a message's participants that may be customers;
    none at all when its sender is excluded (newsletters, automated mail)."""
    sender = headers.sender[0][1] if headers.sender else None
    if sender and scope.exclusions.matches(sender):
        return set()
    return {key for key in headers.participants() if scope.is_external(key)}


INBOX_ROLE, SENT_ROLE = "inbox", "sent"  # the folder roles of mailsync.imap_sync


def direction(headers, scope, role=None):
    """``"sent"`` or ``"received"``. The folder decides where it is known
    (``role``: ``"inbox"`` -> received, ``"sent"`` -> sent): a message in
    the inbox is never "sent" because its From names the owner, which anyone
    can write. Elsewhere (``role`` None), ``"sent"`` when the From is the
    mailbox owner's or the company's."""
    if role == INBOX_ROLE:
        return RECEIVED
    if role == SENT_ROLE:
        return SENT
    sender = headers.sender[0][1] if headers.sender else None
    if sender and (sender in scope.own_addresses or sender.rsplit("@", 1)[1] in scope.internal_domains):
        return SENT
    return RECEIVED
