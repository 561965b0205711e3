"""An IMAP connection to something that is not an IMAP server fails with the
engine's typed error, never a raw imaplib exception."""

import pytest

from mailsync import errors
from mailsync.imap import ImapSettings, connect
from mailsync.testing import ALICE


def test_an_smtp_greeting_is_a_protocol_error(smtp_plain):
    settings = ImapSettings(smtp_plain.host, smtp_plain.port, "none", ALICE[0], ALICE[1], timeout=5)
    with pytest.raises(errors.ProtocolError) as caught:
        connect(settings)
    assert (caught.value.host, caught.value.port) == (smtp_plain.host, smtp_plain.port)
    assert ALICE[1] not in str(caught.value)
