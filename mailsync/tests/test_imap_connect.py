"""Connecting to a real Dovecot: every encryption mode, and every way it fails."""

import pytest

from mailsync import errors
from mailsync.imap import ImapSettings, connect
from mailsync.testing import ALICE


def settings(dovecot, security, port=None, password=ALICE[1], **kw):
    if port is None:
        port = dovecot.ssl_port if security == "ssl" else dovecot.port
    return ImapSettings(dovecot.host, port, security, ALICE[0], password, cafile=dovecot.certs.ca_file, **kw)


@pytest.mark.parametrize("security", ["ssl", "starttls", "none"])
def test_login_and_list_folders_with_special_use(dovecot, security):
    with connect(settings(dovecot, security)) as session:
        folders = {f.name: f for f in session.folders()}
    assert {name: f.special_use for name, f in folders.items()} == {
        "INBOX": "\\Inbox",
        "Sent": "\\Sent",
        "Drafts": "\\Drafts",
        "Trash": "\\Trash",
        "Junk": "\\Junk",
        "Archive": "\\Archive",
    }
    assert all(f.selectable and f.delimiter == "/" for f in folders.values())


def test_starttls_really_encrypts(dovecot):
    with connect(settings(dovecot, "starttls")) as session:
        assert session.client._imap.sock.version().startswith("TLSv1.")


def test_wrong_password_is_an_authentication_error_that_mentions_app_passwords(dovecot):
    with pytest.raises(errors.AuthenticationFailed) as caught:
        connect(settings(dovecot, "ssl", password="not-the-password"))
    error = caught.value
    assert error.code == "auth_failed"
    assert (error.host, error.port) == (dovecot.host, dovecot.ssl_port)
    assert "app password" in str(error)
    assert "not-the-password" not in str(error)
    assert "Authentication failed" in error.detail  # Dovecot's own words, for the log


def test_ssl_against_a_plain_port_is_a_tls_error(dovecot):
    with pytest.raises(errors.TlsError) as caught:
        connect(settings(dovecot, "ssl", port=dovecot.port))
    assert caught.value.reason is None
    assert "993" in caught.value.hint


def test_plain_against_an_ssl_port_times_out_with_the_encryption_hint(dovecot):
    with pytest.raises(errors.ConnectionTimeout) as caught:
        connect(settings(dovecot, "none", port=dovecot.ssl_port, timeout=1))
    assert caught.value.reason == "no_greeting"
    assert "SSL/TLS" in str(caught.value)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_untrusted_certificate_is_reported_as_such(dovecot, security):
    port = dovecot.ssl_port if security == "ssl" else dovecot.port
    with pytest.raises(errors.TlsError) as caught:
        connect(ImapSettings(dovecot.host, port, security, *ALICE))
    assert caught.value.reason == "certificate"


def test_closed_port_is_unreachable(dovecot):
    from mailsync.testing.dovecot import free_port

    with pytest.raises(errors.HostUnreachable) as caught:
        connect(settings(dovecot, "ssl", port=free_port()))
    assert caught.value.reason == "refused"
    assert "port" in caught.value.hint


@pytest.mark.parametrize("host", ["imap..example.com", "x" * 64 + ".example.com"])
def test_malformed_server_name_is_reported_without_a_lookup(host):
    with pytest.raises(errors.HostUnreachable) as caught:
        connect(ImapSettings(host, 993, "ssl", *ALICE))
    assert caught.value.reason == "dns"
    assert host in str(caught.value)


def test_secrets_stay_out_of_repr():
    text = repr(ImapSettings("imap.example.com", 993, "ssl", "u", "s3cret-value"))
    assert "s3cret-value" not in text
    assert "port=993" in text


def test_default_ports_follow_the_encryption():
    assert ImapSettings("h", security="ssl").port == 993
    assert ImapSettings("h", security="starttls").port == 143
