"""Fixtures of the engine suite: real Dovecot and aiosmtpd on 127.0.0.1."""

import pytest

from mailsync.testing import ALICE, BOB
from mailsync.testing.dovecot import DovecotServer
from mailsync.testing.smtpd import SmtpServer


@pytest.fixture(scope="session")
def dovecot():
    # Fresh mailboxes for tests that need their own (Dovecot re-reads its user
    # list at most once a second, so they are all there from the start).
    spare = {f"mailbox{n}@example.com": "pw" for n in range(1, 43)}
    with DovecotServer(users={**dict([ALICE, BOB]), **spare}) as server:
        yield server


@pytest.fixture(scope="session")
def smtp_starttls():
    with SmtpServer("starttls", users=dict([ALICE])) as server:
        yield server


@pytest.fixture(scope="session")
def smtp_ssl():
    with SmtpServer("ssl", users=dict([ALICE])) as server:
        yield server


@pytest.fixture(scope="session")
def smtp_plain():
    with SmtpServer("none") as server:
        yield server
