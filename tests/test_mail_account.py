import os
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE
from odoo.addons.crm_mail_sync.models.crm_mail_secret_mixin import KEY_ENV

from .common import MailSyncCase


@tagged("post_install", "-at_install")
class TestMailAccount(MailSyncCase):
    def test_salesperson_connects_own_mailbox(self):
        account = self.Account.with_user(self.salesman).create(self.imap_values())
        self.assertEqual(account.user_id, self.salesman, "the owner defaults to the user who connects")
        action = account.action_test_connection()
        self.assertEqual(account.state, "connected")
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("6 folders", action["params"]["message"])

    def test_password_is_encrypted_at_rest_and_never_read_back(self):
        account = self.Account.with_user(self.salesman).create(self.imap_values())
        self.env.flush_all()
        self.env.cr.execute("SELECT imap_password_secret FROM crm_mail_account WHERE id = %s", [account.id])
        stored = self.env.cr.fetchone()[0]
        self.assertTrue(stored)
        self.assertNotIn(ALICE[1], stored)
        self.env.cr.execute("SELECT * FROM crm_mail_account WHERE id = %s", [account.id])
        self.assertNotIn(ALICE[1], repr(self.env.cr.fetchall()), "no column holds the password in clear")
        account.invalidate_recordset()
        self.assertFalse(account.imap_password, "the password field always reads back empty")
        self.assertTrue(account.imap_password_set)
        read = account.with_user(self.salesman).read(["imap_password", "imap_password_set"])[0]
        self.assertFalse(read["imap_password"])
        with self.assertRaises(AccessError):
            account.with_user(self.salesman).read(["imap_password_secret"])

    def test_ciphertext_copied_to_another_mailbox_does_not_decrypt(self):
        mine = self.Account.create(self.imap_values())
        other = self.Account.create(self.imap_values(user_id=self.colleague.id))
        other.imap_password_secret = mine.imap_password_secret
        with self.assertRaisesRegex(UserError, "cannot be decrypted"):
            other._get_secret("imap_password")

    def test_wrong_password_is_explained(self):
        account = self.Account.with_user(self.salesman).create(self.imap_values(password="not-it"))
        action = account.action_test_connection()
        self.assertEqual(account.state, "error")
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("rejected the user name or password", account.last_error)
        self.assertIn("app password", account.last_error)
        self.assertNotIn("not-it", account.last_error)

    def test_wrong_encryption_is_explained(self):
        account = self.Account.create(self.imap_values(imap_security="ssl"))
        account.action_test_connection()
        self.assertEqual(account.state, "error")
        self.assertIn("Check the encryption", account.last_error)

    def test_salesperson_cannot_create_a_company_or_a_colleague_mailbox(self):
        Account = self.Account.with_user(self.salesman)
        with self.assertRaises(AccessError):
            Account.create(self.imap_values(user_id=False))
        with self.assertRaises(AccessError):
            Account.create(self.imap_values(user_id=self.colleague.id))

    def test_salesperson_cannot_see_a_colleague_mailbox(self):
        theirs = self.Account.with_user(self.colleague).create(self.imap_values())
        self.assertFalse(self.Account.with_user(self.salesman).search([("id", "=", theirs.id)]))
        with self.assertRaises(AccessError):
            theirs.with_user(self.salesman).read(["email"])

    def test_missing_key_is_a_clear_admin_error(self):
        with patch.dict(os.environ, {KEY_ENV: ""}), self.assertRaisesRegex(UserError, "crm_mail_sync_key"):
            self.Account.create(self.imap_values())

    def test_invalid_email_is_refused(self):
        with self.assertRaisesRegex(UserError, "not a valid email address"):
            self.Account.create(self.imap_values(login="not-an-address"))

    def test_preferences_open_the_users_own_mailboxes(self):
        mine = self.Account.with_user(self.salesman).create(self.imap_values())
        self.Account.with_user(self.colleague).create(self.imap_values())
        action = self.salesman.with_user(self.salesman).action_open_my_mailboxes()
        self.assertEqual(action["res_model"], "crm.mail.account")
        self.assertEqual(self.Account.with_user(self.salesman).search(action["domain"]), mine)
        with self.assertRaises(AccessError):
            self.colleague.with_user(self.salesman).action_open_my_mailboxes()
