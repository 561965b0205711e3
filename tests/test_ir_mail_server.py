import os
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE
from odoo.addons.crm_mail_sync.mailsync.testing.smtpd import SmtpServer
from odoo.addons.crm_mail_sync.models.crm_mail_secret_mixin import KEY_ENV

from .common import allow_sending, use_encryption_key


@tagged("post_install", "-at_install")
class TestOutgoingServer(TransactionCase):
    """A real SMTP server (aiosmtpd) receives the test email of every save,
    signed in with the password stored encrypted."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.smtpd = cls.enterClassContext(SmtpServer("none", users=dict([ALICE])))
        # Odoo never sends in tests; these tests are about sending, to 127.0.0.1 only.
        allow_sending(cls)
        cls.env.user.email = "admin@yourcompany.example.com"
        use_encryption_key(cls)

    def setUp(self):
        super().setUp()
        self.smtpd.clear()

    def server_values(self, **values):
        return {
            "name": "Sam's SMTP",
            "smtp_host": self.smtpd.host,
            "smtp_port": self.smtpd.port,
            "smtp_encryption": "none",
            "smtp_authentication": "login",
            "smtp_user": ALICE[0],
            "smtp_pass": ALICE[1],
            "from_filter": ALICE[0],
            **values,
        }

    def test_creating_a_server_sends_a_test_email_to_the_current_user(self):
        self.env["ir.mail_server"].create(self.server_values())
        received = self.smtpd.wait_for(1)
        self.assertEqual(len(received), 1)
        self.assertEqual(received[0]["rcpt_tos"], ["admin@yourcompany.example.com"])
        self.assertEqual(received[0]["login"], ALICE[0], "sent through the saved credentials")
        self.assertIn("Sam's SMTP", received[0]["message"]["Subject"])

    def test_every_save_of_smtp_settings_sends_again(self):
        server = self.env["ir.mail_server"].create(self.server_values())
        server.write({"smtp_port": self.smtpd.port})
        server.write({"sequence": 5})  # not an SMTP setting: no email
        self.assertEqual(len(self.smtpd.wait_for(2)), 2)

    def test_settings_that_cannot_send_are_refused_with_the_reason(self):
        # A refused save is rolled back, as the request that made it would be.
        with (
            self.assertRaisesRegex(UserError, "could not send the test email.*not saved") as caught,
            self.env.cr.savepoint(),
        ):
            self.env["ir.mail_server"].create(self.server_values(smtp_pass="wrong"))
        # Explained as Test Connection explains it (not the server's raw "535 ..."):
        # what is wrong and what to do.
        self.assertIn("rejected the user name or password", str(caught.exception))
        self.assertIn("create an app password", str(caught.exception))
        self.assertFalse(self.env["ir.mail_server"].search([("name", "=", "Sam's SMTP")]))

    def test_a_user_without_email_is_told_to_set_one(self):
        self.env.user.email = False
        with self.assertRaisesRegex(UserError, "set your email address"), self.env.cr.savepoint():
            self.env["ir.mail_server"].create(self.server_values())

    def test_smtp_password_is_encrypted_and_still_authenticates(self):
        server = self.env["ir.mail_server"].create(self.server_values())
        self.assertEqual(self.smtpd.wait_for(1)[0]["login"], ALICE[0], "the decrypted password signed in")
        self.env.flush_all()
        self.env.cr.execute("SELECT * FROM ir_mail_server WHERE id = %s", [server.id])
        self.assertNotIn(ALICE[1], repr(self.env.cr.fetchall()), "no column holds the password in clear")
        server.invalidate_recordset()
        self.assertFalse(server.read(["smtp_pass"])[0]["smtp_pass"], "the password never reads back")

    def test_a_password_stored_in_clear_before_the_addon_keeps_working(self):
        server = self.env["ir.mail_server"].create(self.server_values())
        self.env.cr.execute(
            "UPDATE ir_mail_server SET smtp_pass = %s, smtp_pass_secret = NULL WHERE id = %s", [ALICE[1], server.id]
        )
        server.invalidate_recordset()
        self.smtpd.clear()
        server.test_smtp_connection()  # Odoo's own connection test signs in with it
        server.write({"smtp_pass": ALICE[1]})  # saved again: now encrypted, and the clear copy is gone
        self.env.cr.execute("SELECT smtp_pass FROM ir_mail_server WHERE id = %s", [server.id])
        self.assertIsNone(self.env.cr.fetchone()[0])

    def test_saving_a_password_without_an_encryption_key_is_a_clear_admin_error(self):
        with patch.dict(os.environ, {KEY_ENV: ""}), self.assertRaisesRegex(UserError, "crm_mail_sync_key"):
            self.env["ir.mail_server"].create(self.server_values())
