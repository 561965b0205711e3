import os

import polib

from odoo.tests import tagged
from odoo.tools.translate import TranslationModuleReader

from .common import MailSyncCase

I18N = os.path.join(os.path.dirname(os.path.dirname(__file__)), "i18n")


@tagged("post_install", "-at_install")
class TestTranslations(MailSyncCase):
    def test_every_term_ships_in_french_and_spanish(self):
        """Every string a user can see, as Odoo extracts it from the code, views
        and data right now, has a French and a Spanish translation."""
        terms = {
            source
            for _module, _type, _name, _id, source, _value, _comments in TranslationModuleReader(
                self.env.cr, modules=["crm_mail_sync"]
            )
            if source
        }
        self.assertGreater(len(terms), 50)
        for lang in ("fr", "es"):
            catalog = {entry.msgid: entry.msgstr for entry in polib.pofile(os.path.join(I18N, f"{lang}.po"))}
            missing = sorted(term for term in terms if not catalog.get(term))
            self.assertFalse(missing, f"untranslated in i18n/{lang}.po (run `make i18n`, then translate)")

    def test_connection_errors_read_in_the_users_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["res.lang"]._activate_lang("es_ES")
        self.salesman.lang = "fr_FR"
        account = self.Account.with_user(self.salesman).create(self.imap_values(password="not-it"))
        account.with_context(lang="fr_FR").action_test_connection()
        self.assertRegex(account.last_error, r"mot de passe d.application")
        account.with_context(lang="es_ES").action_test_connection()
        self.assertIn("contraseña de aplicación", account.last_error)
