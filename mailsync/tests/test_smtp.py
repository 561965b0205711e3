"""Sending through a real aiosmtpd: every encryption mode, and every way it fails."""

from email.message import EmailMessage

import pytest

from mailsync import errors, smtp
from mailsync.testing import ALICE


def message(subject="Hello"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = ALICE[0], "customer@example.org", subject
    msg.set_content("Body")
    return msg


def settings(server, security, password=ALICE[1], **kw):
    return smtp.SmtpSettings(
        server.host, server.port, security, True, ALICE[0], password, cafile=server.certs.ca_file, **kw
    )


@pytest.mark.parametrize(("server_name", "security"), [("smtp_starttls", "starttls"), ("smtp_ssl", "ssl")])
def test_authenticated_send_arrives(request, server_name, security):
    server = request.getfixturevalue(server_name)
    before = len(server.messages)
    smtp.send_message(settings(server, security), message(f"via {security}"))
    received = server.wait_for(before + 1)[-1]
    assert received["message"]["Subject"] == f"via {security}"
    assert received["rcpt_tos"] == ["customer@example.org"]
    assert received["login"] == ALICE[0]


def test_send_without_authentication(smtp_plain):
    smtp.send_message(smtp.SmtpSettings(smtp_plain.host, smtp_plain.port, "none", False), message("plain"))
    assert smtp_plain.wait_for(1)[-1]["message"]["Subject"] == "plain"


def test_wrong_password(smtp_starttls):
    with pytest.raises(errors.AuthenticationFailed) as caught:
        smtp.check(settings(smtp_starttls, "starttls", password="wrong-one"))
    assert caught.value.code == "auth_failed"
    assert "535" in caught.value.detail
    assert "wrong-one" not in str(caught.value)


def test_starttls_asked_of_a_server_without_it(smtp_plain):
    with pytest.raises(errors.TlsError) as caught:
        smtp.check(smtp.SmtpSettings(smtp_plain.host, smtp_plain.port, "starttls", False))
    assert caught.value.reason == "starttls_unsupported"


def test_ssl_against_a_starttls_port(smtp_starttls):
    with pytest.raises(errors.TlsError):
        smtp.check(settings(smtp_starttls, "ssl"))


def test_plain_against_an_ssl_port(smtp_ssl):
    with pytest.raises(errors.ConnectionTimeout) as caught:
        smtp.check(settings(smtp_ssl, "none", timeout=1))
    assert caught.value.reason == "no_greeting"


def test_auth_required_but_switched_off(smtp_starttls):
    server = smtp_starttls
    plain = smtp.SmtpSettings(server.host, server.port, "starttls", False, cafile=server.certs.ca_file)
    with pytest.raises(errors.MessageRefused) as caught:
        smtp.send_message(plain, message())
    assert caught.value.reason == "auth_required"
    assert "530" in caught.value.detail


def test_untrusted_certificate_on_starttls(smtp_starttls):
    untrusted = smtp.SmtpSettings(smtp_starttls.host, smtp_starttls.port, "starttls", True, *ALICE)
    with pytest.raises(errors.TlsError) as caught:
        smtp.check(untrusted)
    assert caught.value.reason == "certificate"
