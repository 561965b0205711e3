import json
import pathlib

from odoo.exceptions import UserError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from odoo.addons.crm_mail_sync.mailsync.testing.dns_server import DnsServer
from odoo.addons.crm_mail_sync.mailsync.testing.scripted import PASSWORD, ScriptedServer, play_case
from odoo.addons.crm_mail_sync.tools.messages import describe

from .common import TOUR_TAG, allow_sending, load_language, use_encryption_key

CASES_DIR = pathlib.Path(__file__).parent.parent / "mailsync" / "tests" / "data" / "provider-replies"
CASES = {path.stem: json.loads(path.read_text()) for path in sorted(CASES_DIR.glob("*.json"))}

# case -> words the message must hold, per language (what the user needs, in their words)
KEY_WORDS = {
    "01-m365-smtp-auth-disabled-for-tenant": {
        "en_US": ["Authenticated SMTP", "administrator", "https://aka.ms/smtp_auth_disabled"],
        "fr_FR": ["SMTP authentifié", "administrateur", "https://aka.ms/smtp_auth_disabled"],
        "es_ES": ["SMTP autenticado", "administrador", "https://aka.ms/smtp_auth_disabled"],
    },
    "06-gmail-smtp-must-issue-starttls": {
        "en_US": ["requires an encrypted connection", "STARTTLS", "SSL/TLS"],
        "fr_FR": ["exige une connexion chiffrée", "STARTTLS", "SSL/TLS"],
        "es_ES": ["exige una conexión cifrada", "STARTTLS", "SSL/TLS"],
    },
    "07-postfix-sender-not-owned-by-user-rcpt": {
        "en_US": ["sales@example.com", "own address", "Send As"],
        "fr_FR": ["sales@example.com", "adresse propre", "Envoyer en tant que"],
        "es_ES": ["sales@example.com", "dirección propia", "Enviar como"],
    },
    "11-ionos-reject-policy-restrictions-data": {
        "en_US": ["policy", "https://www.ionos.com/help/index.php?id=2425&ip=192.0.2.10&c=hd"],
        "fr_FR": ["politique", "https://www.ionos.com/help/index.php?id=2425&ip=192.0.2.10&c=hd"],
        "es_ES": ["política", "https://www.ionos.com/help/index.php?id=2425&ip=192.0.2.10&c=hd"],
    },
    "17-outlook-imap-basic-auth-disabled": {
        "en_US": ["Sign in with Microsoft", "no longer accepts a password"],
        "fr_FR": ["Se connecter avec Microsoft", "accepte plus de mot de passe"],
        "es_ES": ["Iniciar sesión con Microsoft", "ya no acepta una contraseña"],
    },
    "19-m365-authenticated-but-not-connected": {
        "en_US": ["will not open this mailbox", "IMAP"],
        "fr_FR": ["ouvre pas cette boîte mail", "IMAP"],
        "es_ES": ["no abre este buzón", "IMAP"],
    },
    "20-dovecot-unavailable-max-connections": {
        "en_US": ["Too many connections", "other mail", "password is fine"],
        "fr_FR": ["Trop de connexions", "autres applications", "mot de passe est correct"],
        "es_ES": ["demasiadas conexiones", "otras aplicaciones", "contraseña es correcta"],
    },
    "23-yahoo-greeting-unavailable": {
        "en_US": ["temporarily unavailable", "Try again later"],
        "fr_FR": ["temporairement indisponible", "Réessayez plus tard"],
        "es_ES": ["no está disponible temporalmente", "Vuelva a intentarlo más tarde"],
    },
}
WRONG_PASSWORD = {
    "en_US": "rejected the user name or password",
    "fr_FR": "utilisateur ou le mot de passe",
    "es_ES": "nombre de usuario o la contraseña",
}
LANGS = ("en_US", "fr_FR", "es_ES")


class RefusalCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for lang in LANGS[1:]:
            cls.env["res.lang"]._activate_lang(lang)
        cls.env["ir.module.module"]._load_module_terms(["crm_mail_sync"], list(LANGS[1:]))

    def message(self, error, lang):
        return describe(self.env(context={"lang": lang}), error)


@tagged("post_install", "-at_install")
class TestProviderRefusalMessages(RefusalCase):
    """Each real provider reply, played by a scripted server on 127.0.0.1 against
    the engine, reads in English, French and Spanish as what happened and what
    to do, with the server's own link where it gave one."""

    def test_every_case_file_is_covered(self):
        self.assertEqual(set(CASES), set(KEY_WORDS))

    def test_each_provider_reply_says_what_to_do_in_three_languages(self):
        for name, case in CASES.items():
            error = play_case(case)
            self.assertIsNotNone(error, name)
            for lang in LANGS:
                with self.subTest(case=name, lang=lang):
                    text = self.message(error, lang)
                    for word in KEY_WORDS[name][lang]:
                        self.assertIn(word, text)
                    self.assertNotIn(PASSWORD, text)
                    for forbidden in case.get("must_not", []):
                        self.assertNotIn(forbidden.lower(), text.lower())
                    self.assertNotIn(WRONG_PASSWORD[lang], text, "none of these is a wrong password")

    def test_starttls_required_when_sending_without_authentication_never_says_switch_it_off(self):
        error = play_case(CASES["06-gmail-smtp-must-issue-starttls"], call="send", authenticate=False)
        text = self.message(error, "en_US")
        self.assertIn("STARTTLS", text)
        self.assertNotIn("switch smtp authentication off", text.lower())

    def test_a_plain_bad_password_still_says_wrong_password(self):
        case = {
            "protocol": "SMTP",
            "call": "check",
            "settings": {"security": "none"},
            "script": {"auth": ["535 5.7.8 Error: authentication failed: UGFzc3dvcmQ6"]},
        }
        error = play_case(case)
        self.assertTrue(error.counts_as_sign_in_failure)
        for lang in LANGS:
            self.assertIn(WRONG_PASSWORD[lang], self.message(error, lang))

    def test_other_replies_of_the_same_kinds(self):
        smtp_ehlo = ["250-mail.example.com", "250-ENHANCEDSTATUSCODES", "250 AUTH PLAIN LOGIN"]
        replies = [
            # (protocol, script, words in en, fr, es)
            ("SMTP", {"mail": ["421 4.7.0 Try again later, closing connection."]}, ["Try again later"]),
            ("IMAP", {"greeting": ["* BYE Too busy"], "close_after_greeting": True}, ["Try again later"]),
            ("IMAP", {"login": ["{tag} NO [AUTHORIZATIONFAILED] No access"]}, ["not for this mailbox"]),
            (
                "IMAP",
                {
                    "login": [
                        "{tag} NO [ALERT] Please log in via your web browser: "
                        "https://support.google.com/mail/accounts/answer/78754 (Failure)"
                    ]
                },
                ["web browser", "https://support.google.com/mail/accounts/answer/78754"],
            ),
            ("SMTP", {"rcpt": ["554 5.7.1 <user@example.com>: Relay access denied"]}, ["relay", "user@example.com"]),
            (
                "SMTP",
                {"data_end": ["550 5.7.60 SMTP; Client does not have permissions to send as this sender"]},
                ["user@example.com", "Send As"],
            ),
        ]
        for protocol, script, words in replies:
            with self.subTest(script=script):
                case = {
                    "protocol": protocol,
                    "call": "imap" if protocol == "IMAP" else "send",
                    "settings": {"security": "none"},
                    "script": {"ehlo": smtp_ehlo, **script} if protocol == "SMTP" else script,
                }
                error = play_case(case)
                text = self.message(error, "en_US")
                for word in words:
                    self.assertIn(word, text)
                for lang in LANGS[1:]:
                    self.assertNotEqual(self.message(error, lang).split("\n")[0], text.split("\n")[0], lang)


@tagged("post_install", "-at_install")
class TestTestConnectionProvesSending(RefusalCase):
    """The setup wizard's and the outgoing server's Test Connection go as far as
    MAIL FROM and RCPT TO for every From address (nothing is sent) and name a
    refused one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        use_encryption_key(cls)
        cls.user = new_test_user(
            cls.env, login="sara", name="Sara Sales", email="info@example.com", groups="base.group_system"
        )
        cls.smtp = cls.enterClassContext(ScriptedServer("SMTP", {}))
        cls.imap = cls.enterClassContext(ScriptedServer("IMAP", {}))
        allow_sending(cls)

    def setUp(self):
        super().setUp()
        self.smtp.script = {}
        self.smtp.commands.clear()

    def wizard(self, lang="en_US", **values):
        wizard = (
            self.env["crm.mail.setup.wizard"]
            .with_user(self.user)
            .with_context(lang=lang)
            .create(
                {
                    "email": "info@example.com",
                    "step": "servers",
                    "custom_servers": True,
                    "imap_host": self.imap.host,
                    "imap_port": self.imap.port,
                    "imap_security": "none",
                    "imap_login": "info@example.com",
                    "smtp_host": self.smtp.host,
                    "smtp_port": self.smtp.port,
                    "smtp_security": "none",
                    "password": PASSWORD,
                    **values,
                }
            )
        )
        wizard.action_test()
        return wizard

    def test_the_wizard_tries_every_from_address_and_sends_nothing(self):
        wizard = self.wizard(extra_from="sales@example.com")
        self.assertEqual((wizard.step, wizard.smtp_result), ("sharing", "Connected."))
        self.assertIn("mail FROM:<info@example.com>", self.smtp.commands)
        self.assertIn("mail FROM:<sales@example.com>", self.smtp.commands)
        self.assertIn("rcpt TO:<info@example.com>", self.smtp.commands)
        self.assertNotIn("data", [command.lower() for command in self.smtp.commands])

    def test_the_wizard_names_a_refused_alias_in_the_users_language(self):
        self.smtp.script = {
            "mail": ["553 5.7.1 <sales@example.com>: Sender address rejected: not owned by user info@example.com"]
        }
        for lang, words in (
            ("en_US", ["sales@example.com", "Send As"]),
            ("fr_FR", ["sales@example.com", "Envoyer en tant que"]),
            ("es_ES", ["sales@example.com", "Enviar como"]),
        ):
            wizard = self.wizard(lang=lang, extra_from="sales@example.com")
            self.assertEqual(wizard.step, "servers")
            for word in words:
                self.assertIn(word, wizard.smtp_result)
            self.assertNotIn(PASSWORD, wizard.smtp_result)

    def test_the_outgoing_servers_test_connection_names_a_refused_from_address(self):
        server = self.env["ir.mail_server"].create(
            {
                "name": "Sara's SMTP",
                "smtp_host": self.smtp.host,
                "smtp_port": self.smtp.port,
                "smtp_encryption": "none",
                "smtp_authentication": "login",
                "smtp_user": "info@example.com",
                "smtp_pass": PASSWORD,
                "from_filter": "info@example.com,sales@example.com",
            }
        )
        self.env.user.email = "info@example.com"
        self.smtp.script = {
            "rcpt": ["550 5.7.60 SMTP; Client does not have permissions to send as this sender"],
        }
        with self.assertRaisesRegex(UserError, r"send as info@example\.com.*Send As"):
            server.test_smtp_connection()
        self.assertNotIn("data", [command.lower() for command in self.smtp.commands[-4:]])

    def test_the_test_email_sent_on_save_explains_a_refused_sender_in_the_users_language(self):
        self.smtp.script = {
            "mail": ["553 5.7.1 <info@example.com>: Sender address rejected: not owned by user info@example.com"]
        }
        self.env.user.email = "info@example.com"
        for lang, words in (("en_US", "Send As"), ("es_ES", "Enviar como")):
            with (
                self.subTest(lang=lang),
                self.assertRaisesRegex(UserError, r"info@example\.com") as caught,
                self.env.cr.savepoint(),
            ):
                self.env["ir.mail_server"].with_context(lang=lang).create(
                    {
                        "name": "Sara's SMTP",
                        "smtp_host": self.smtp.host,
                        "smtp_port": self.smtp.port,
                        "smtp_encryption": "none",
                        "smtp_authentication": "login",
                        "smtp_user": "info@example.com",
                        "smtp_pass": PASSWORD,
                    }
                )
            self.assertIn(words, str(caught.exception))
            self.assertNotIn(PASSWORD, str(caught.exception))


@tagged("post_install", "-at_install", TOUR_TAG)
class TestRefusedSenderTour(HttpCase):
    """In Spanish, the setup wizard's test names a From address the outgoing
    server refuses (a scripted SMTP server that answers Postfix's refusal to
    that address only) and says what to do."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        use_encryption_key(cls)
        load_language(cls.env, "es_ES")
        refusal = "553 5.7.1 <ventas@example.com>: Sender address rejected: not owned by user info@example.com"
        cls.smtp = cls.enterClassContext(ScriptedServer("SMTP", {"mail": {"ventas@example.com": [refusal]}}))
        cls.imap = cls.enterClassContext(ScriptedServer("IMAP", {}))
        cls.dns = cls.enterClassContext(DnsServer({}))  # example.com is unknown: servers are typed in
        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_mail_sync.dns_nameserver", f"{cls.dns.host}:{cls.dns.port}"
        )
        cls.salesman = new_test_user(
            cls.env,
            login="sofia",
            name="Sofía Ventas",
            email="info@example.com",
            lang="es_ES",
            groups="sales_team.group_sale_salesman",
        )
        # The scripted servers' free ports stand in for the usual 993 and 587.
        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_mail_sync.allowed_ports", f"{cls.imap.port},{cls.smtp.port}"
        )
        Default = cls.env["ir.default"]
        Default.set("crm.mail.setup.wizard", "imap_port", cls.imap.port, user_id=cls.salesman.id)
        Default.set("crm.mail.setup.wizard", "smtp_port", cls.smtp.port, user_id=cls.salesman.id)

    def test_the_wizard_names_the_refused_from_address_in_spanish(self):
        self.start_tour("/odoo", "crm_mail_sync_refused_sender_es", login="sofia")
        self.assertIn("mail FROM:<ventas@example.com>", self.smtp.commands)
        self.assertFalse(self.env["crm.mail.account"].search([("user_id", "=", self.salesman.id)]))
