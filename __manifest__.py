# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "CRM Mail Sync",
    "summary": "Connect salespeople's mailboxes: log sent and received email on contacts and opportunities",
    "version": "19.0.1.0.0",
    "category": "Sales/CRM",
    "author": "crm_mail_sync developers",
    "license": "LGPL-3",
    "development_status": "Alpha",
    "application": False,
    "installable": True,
    "depends": ["crm", "mail"],
    "external_dependencies": {
        # Distribution names, as Odoo checks them; pinned in requirements.txt.
        "python": ["imapclient", "msal", "exchangelib", "cryptography", "dnspython", "webencodings", "authres", "idna"],
    },
    "data": [
        "security/ir.model.access.csv",
        "security/crm_mail_account_security.xml",
        "security/crm_mail_interaction_security.xml",
        "data/provider_presets.xml",
        "data/ir_cron.xml",
        "wizard/crm_mail_setup_wizard_views.xml",
        "wizard/crm_mail_account_remove_views.xml",
        "views/crm_mail_account_views.xml",
        "views/crm_mail_provider_views.xml",
        "views/crm_mail_sync_menus.xml",
        "views/res_users_views.xml",
        "views/res_config_settings_views.xml",
        "views/ir_mail_server_views.xml",
        "views/crm_mail_interaction_views.xml",
        "wizard/crm_mail_create_opportunity_views.xml",
        "views/res_partner_views.xml",
        "views/crm_lead_views.xml",
    ],
    "demo": [
        "demo/crm_mail_sync_demo.xml",
    ],
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
    "assets": {
        "web.assets_tests": [
            "crm_mail_sync/static/tests/tours/**/*",
        ],
    },
}
