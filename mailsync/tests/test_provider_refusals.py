"""Every refusal a provider sends is a typed error that says what it means.

Each file of ``data/provider-replies/`` is a reply a real provider sent, played
word for word by a scripted server on 127.0.0.1 against the engine; beside
them, other replies of the same kinds (RFC 5530 codes, RFC 3463 enhanced
status codes, provider texts).
"""

import json
import pathlib

import pytest

from mailsync import errors, smtp
from mailsync.testing.scripted import PASSWORD, TOKEN, ScriptedServer, play_case

CASES_DIR = pathlib.Path(__file__).parent / "data" / "provider-replies"
CASES = {path.stem: json.loads(path.read_text()) for path in sorted(CASES_DIR.glob("*.json"))}

# case -> (error class, code, reason, temporary, counts as a failed sign-in)
EXPECTED = {
    "01-m365-smtp-auth-disabled-for-tenant": (errors.AuthenticationFailed, "auth_failed", "smtp_auth_disabled"),
    "06-gmail-smtp-must-issue-starttls": (errors.TlsError, "tls", "encryption_required"),
    "07-postfix-sender-not-owned-by-user-rcpt": (errors.MessageRefused, "refused", "send_as"),
    "11-ionos-reject-policy-restrictions-data": (errors.MessageRefused, "refused", "policy"),
    "17-outlook-imap-basic-auth-disabled": (errors.AuthenticationFailed, "auth_failed", "basic_auth_disabled"),
    "19-m365-authenticated-but-not-connected": (errors.MailboxRefused, "mailbox", "not_connected"),
    "20-dovecot-unavailable-max-connections": (errors.ServerUnavailable, "unavailable", "too_many_connections"),
    "23-yahoo-greeting-unavailable": (errors.ServerUnavailable, "unavailable", None),
}


def test_every_case_file_has_an_expectation():
    assert set(CASES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_provider_reply_is_a_typed_error(name):
    case = CASES[name]
    error = play_case(case)
    cls, code, reason = EXPECTED[name]
    assert type(error) is cls, f"{name}: {error!r}"
    assert (error.code, error.reason) == (code, reason)
    assert PASSWORD not in str(error) and TOKEN not in str(error)
    for forbidden in case.get("must_not", []):
        assert forbidden.lower() not in str(error).lower()
    assert error.counts_as_sign_in_failure is (cls is errors.AuthenticationFailed)


def test_smtp_auth_disabled_keeps_microsofts_link_and_is_not_a_wrong_password():
    error = play_case(CASES["01-m365-smtp-auth-disabled-for-tenant"])
    assert error.url == "https://aka.ms/smtp_auth_disabled"
    assert "Authenticated SMTP" in error.hint
    assert "app password" not in str(error)


def test_smtp_auth_disabled_with_a_microsoft_token_does_not_say_sign_in_again():
    case = json.loads(json.dumps(CASES["01-m365-smtp-auth-disabled-for-tenant"]))
    case["settings"]["access_token"] = True
    case["script"]["ehlo"][5] = "250-AUTH LOGIN XOAUTH2"
    error = play_case(case)
    assert error.reason == "smtp_auth_disabled"


def test_starttls_required_also_when_sending_without_authentication():
    case = CASES["06-gmail-smtp-must-issue-starttls"]
    assert case["also_send_without_auth"]
    error = play_case(case, call="send", authenticate=False)
    assert (type(error), error.reason, error.step) == (errors.TlsError, "encryption_required", "mail")
    assert "STARTTLS" in error.hint


def test_sender_not_owned_names_the_from_address():
    error = play_case(CASES["07-postfix-sender-not-owned-by-user-rcpt"])
    assert (error.address, error.step) == ("sales@example.com", "rcpt")
    assert "not owned by user" in error.detail


def test_ionos_policy_refusal_keeps_the_explanation_link():
    error = play_case(CASES["11-ionos-reject-policy-restrictions-data"])
    assert error.step == "data"
    assert error.url == "https://www.ionos.com/help/index.php?id=2425&ip=192.0.2.10&c=hd"


def test_unavailable_greeting_is_temporary_and_not_a_failed_sign_in():
    error = play_case(CASES["23-yahoo-greeting-unavailable"])
    assert error.temporary and not error.counts_as_sign_in_failure
    assert error.step == "greeting"
    assert "LOGIN" not in error.commands


def test_too_many_connections_is_temporary_and_says_the_password_is_fine():
    error = play_case(CASES["20-dovecot-unavailable-max-connections"])
    assert error.temporary and not error.counts_as_sign_in_failure
    assert "password is fine" in error.hint


# -- other replies of the same kinds --------------------------------------------

IMAP_CAPS = ["* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2"]


def imap_case(script, access_token=False):
    return {
        "protocol": "IMAP",
        "call": "imap",
        "settings": {"security": "none", "access_token": access_token},
        "script": {"capability": IMAP_CAPS, **script},
    }


def smtp_case(script, call="check", **extra):
    ehlo = ["250-mail.example.com", "250-ENHANCEDSTATUSCODES", "250 AUTH PLAIN LOGIN"]
    return {
        "protocol": "SMTP",
        "call": call,
        "settings": {"security": "none", "authenticate": True},
        "script": {"ehlo": ehlo, **script},
        **extra,
    }


@pytest.mark.parametrize(
    ("script", "cls", "reason", "temporary"),
    [
        # RFC 5530 codes
        (
            {"login": ["{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"]},
            errors.AuthenticationFailed,
            None,
            False,
        ),
        (
            {"login": ["{tag} NO [AUTHORIZATIONFAILED] Authorization failed"]},
            errors.AuthenticationFailed,
            "authorization",
            False,
        ),
        ({"login": ["{tag} NO [EXPIRED] Password expired"]}, errors.AuthenticationFailed, "expired", False),
        ({"login": ["{tag} NO [CONTACTADMIN] Account locked"]}, errors.AuthenticationFailed, "contact_admin", False),
        ({"login": ["{tag} NO [PRIVACYREQUIRED] Use TLS"]}, errors.TlsError, "encryption_required", False),
        ({"login": ["{tag} NO [UNAVAILABLE] Try later"]}, errors.ServerUnavailable, None, True),
        ({"login": ["{tag} NO [LIMIT] Too many sessions"]}, errors.ServerUnavailable, "too_many_connections", True),
        # Greetings that refuse the session
        (
            {"greeting": ["* BYE Server shutting down"], "close_after_greeting": True},
            errors.ServerUnavailable,
            None,
            True,
        ),
        (
            {"greeting": ["* BYE [ALERT] Too many simultaneous connections. (Failure)"], "close_after_greeting": True},
            errors.ServerUnavailable,
            "too_many_connections",
            True,
        ),
        # Google
        (
            {
                "login": [
                    "{tag} NO [ALERT] Please log in via your web browser: "
                    "https://support.google.com/mail/accounts/answer/78754 (Failure)"
                ]
            },
            errors.AuthenticationFailed,
            "web_login",
            False,
        ),
        (
            {"login": ["{tag} NO [ALERT] Too many simultaneous connections. (Failure)"]},
            errors.ServerUnavailable,
            "too_many_connections",
            True,
        ),
        # Folder listing refused after sign-in
        ({"after_login": ["{tag} NO [UNAVAILABLE] Backend down"]}, errors.ServerUnavailable, None, True),
        ({"after_login": ["{tag} NO Mailbox not available"]}, errors.MailboxRefused, None, False),
    ],
)
def test_imap_refusals(script, cls, reason, temporary):
    error = play_case(imap_case(script))
    assert (type(error), error.reason, error.temporary) == (cls, reason, temporary)
    assert PASSWORD not in str(error)


def test_imap_web_login_points_to_googles_help_page():
    script = {
        "login": [
            "{tag} NO [ALERT] Please log in via your web browser: "
            "https://support.google.com/mail/accounts/answer/78754 (Failure)"
        ]
    }
    assert play_case(imap_case(script)).url == "https://support.google.com/mail/accounts/answer/78754"


def test_exchange_online_bare_login_failed_says_sign_in_with_microsoft():
    case = imap_case(
        {"greeting": ["* OK The Microsoft Exchange IMAP4 service is ready."], "login": ["{tag} NO LOGIN failed."]}
    )
    error = play_case(case)
    assert (type(error), error.reason) == (errors.AuthenticationFailed, "microsoft_password")
    assert "Sign in with Microsoft" in error.hint


def test_a_plain_wrong_password_elsewhere_still_says_wrong_password():
    error = play_case(imap_case({"login": ["{tag} NO LOGIN failed."]}))
    assert (error.reason, error.counts_as_sign_in_failure) == (None, True)
    assert "user name or password" in str(error)


def test_refused_token_after_xoauth2():
    error = play_case(imap_case({"authenticate": ["{tag} NO AUTHENTICATE failed."]}, access_token=True))
    assert (type(error), error.reason) == (errors.AuthenticationFailed, "token")


@pytest.mark.parametrize(
    ("script", "cls", "reason", "address"),
    [
        # 5.7.8: a plain bad password is still a wrong password
        (
            {"auth": ["535 5.7.8 Error: authentication failed: authentication failure"]},
            errors.AuthenticationFailed,
            None,
            None,
        ),
        (
            {"auth": ["535 5.7.139 Authentication unsuccessful, the user credentials were incorrect."]},
            errors.AuthenticationFailed,
            None,
            None,
        ),
        (
            {"auth": ["535 5.7.139 Authentication unsuccessful, basic authentication is disabled."]},
            errors.AuthenticationFailed,
            "basic_auth_disabled",
            None,
        ),
        (
            {
                "auth": [
                    "534-5.7.14 <https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbt> Please log in",
                    "534-5.7.14 via your web browser and then try again.",
                    "534 5.7.14  Learn more at https://support.google.com/mail/answer/78754 - gsmtp",
                ]
            },
            errors.AuthenticationFailed,
            "web_login",
            None,
        ),
        (
            {"auth": ["454 4.7.0 Too many login attempts, please try again later."]},
            errors.ServerUnavailable,
            None,
            None,
        ),
        ({"greeting": ["421 4.7.0 Try again later, closing connection."]}, errors.ServerUnavailable, None, None),
        (
            {"mail": ["421 4.7.0 Too many concurrent SMTP connections from this IP address; please try again later."]},
            errors.ServerUnavailable,
            "too_many_connections",
            None,
        ),
        (
            {"mail": ["550 5.7.1 Emetteur invalide / Invalid sender OFR_416 [416]"]},
            errors.MessageRefused,
            "send_as",
            "user@example.com",
        ),
        (
            {
                "mail": [
                    "550 5.7.60 SMTP; Client does not have permissions to send as this sender "
                    "[AM0PR01MB1234.eurprd01.prod.exchangelabs.com]"
                ]
            },
            errors.MessageRefused,
            "send_as",
            "user@example.com",
        ),
        (
            {"rcpt": ["554 5.7.1 <user@example.com>: Relay access denied"]},
            errors.MessageRefused,
            "relay",
            "user@example.com",
        ),
        ({"rcpt": ["451 4.7.1 Greylisted, try again later"]}, errors.ServerUnavailable, None, None),
    ],
)
def test_smtp_check_refusals(script, cls, reason, address):
    error = play_case(smtp_case(script))
    assert (type(error), error.reason, error.address) == (cls, reason, address), repr(error)
    assert error.temporary is (cls is errors.ServerUnavailable)
    assert PASSWORD not in str(error)


def test_web_login_shows_googles_help_page_not_the_one_time_sign_in_link():
    script = {
        "auth": [
            "534-5.7.14 <https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbt> Please log in",
            "534 5.7.14 via your web browser. Learn more at https://support.google.com/mail/answer/78754 - gsmtp",
        ]
    }
    assert play_case(smtp_case(script)).url == "https://support.google.com/mail/answer/78754"


def test_send_as_denied_at_end_of_data():
    script = {
        "data_end": [
            "550 5.7.60 SMTP; Client does not have permissions to send as this sender "
            "[DB8PR09MB1234.eurprd09.prod.outlook.com]"
        ]
    }
    error = play_case(smtp_case(script, call="send", mail_from="sales@example.com"))
    assert (type(error), error.reason, error.address, error.step) == (
        errors.MessageRefused,
        "send_as",
        "sales@example.com",
        "data",
    )


def test_check_tries_every_sender_and_names_the_refused_one():
    script = {"mail": ["553 5.7.1 <alias@example.com>: Sender address rejected: not owned by user user@example.com"]}
    error = play_case(smtp_case(script), senders=("alias@example.com",))
    assert (error.reason, error.address, error.step) == ("send_as", "alias@example.com", "mail")


def test_check_sends_nothing():
    case = smtp_case({})

    with ScriptedServer("SMTP", case["script"]) as server:
        settings = smtp.SmtpSettings(server.host, server.port, "none", True, "user@example.com", PASSWORD)
        smtp.check(settings, senders=("user@example.com", "alias@example.com"), recipient="user@example.com")
        verbs = [command.split(" ")[0].split(":")[0].upper() for command in server.commands]
    assert verbs == ["EHLO", "AUTH", "MAIL", "RCPT", "RSET", "MAIL", "RCPT", "RSET", "QUIT"]
    assert "DATA" not in verbs
    assert "mail FROM:<alias@example.com>" in server.commands


def test_auth_required_when_authentication_is_off():
    error = play_case(smtp_case({"mail": ["530 5.7.0 Authentication required"]}, call="send"), authenticate=False)
    assert (type(error), error.reason) == (errors.MessageRefused, "auth_required")
