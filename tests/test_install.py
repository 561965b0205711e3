from odoo.tests import TransactionCase, tagged

from odoo.addons.crm_mail_sync import mailsync


@tagged("post_install", "-at_install")
class TestInstall(TransactionCase):
    def test_installed_as_a_crm_module(self):
        module = self.env["ir.module.module"].search([("name", "=", "crm_mail_sync")])
        self.assertEqual(module.state, "installed")
        self.assertEqual(module.shortdesc, "CRM Mail Sync")
        self.assertEqual(module.category_id, self.env.ref("base.module_category_sales_crm"))
        self.assertFalse(module.application)
        self.assertTrue(module.icon_image, "the Apps menu shows the addon's own icon")
        dependencies = module.dependencies_id.mapped("name")
        self.assertCountEqual(dependencies, ["crm", "mail"])

    def test_engine_is_importable_from_the_addon(self):
        """The Odoo side reaches the engine as a subpackage of the addon."""
        self.assertEqual(mailsync.Security("starttls").default_port("SMTP"), 587)
