from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestAppsMenu(HttpCase):
    def test_apps_menu_lists_the_addon_as_installed(self):
        """An admin finds CRM Mail Sync in the Apps menu of the web client, installed."""
        self.start_tour("/odoo/apps", "crm_mail_sync_apps_menu", login="admin")
