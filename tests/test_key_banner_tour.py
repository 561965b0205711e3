import os
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from odoo.addons.crm_mail_sync.mailsync import secrets
from odoo.addons.crm_mail_sync.models.crm_mail_secret_mixin import KEY_ENV

from .common import TOUR_TAG


@tagged("post_install", "-at_install", TOUR_TAG)
class TestKeyBannerTour(HttpCase):
    """Issue 11, item 3: what an administrator sees in the browser when a key was removed."""

    def test_an_administrator_sees_the_key_error_above_the_mailbox_list_and_in_settings(self):
        with patch.dict(os.environ, {KEY_ENV: secrets.generate_key()}):
            self.env["crm.mail.account"].create(
                {
                    "email": "sam@ourcompany.example",
                    "imap_host": "imap.ourcompany.example",
                    "imap_login": "sam@ourcompany.example",
                    "imap_password": "old-password",
                }
            )
        with patch.dict(os.environ, {KEY_ENV: secrets.generate_key()}):  # the old key is gone
            url = "/odoo/action-crm_mail_sync.crm_mail_account_action"
            self.start_tour(url, "crm_mail_sync_key_banner", login="admin")
