"""Install and uninstall of the addon, for what Odoo stored before it."""

import logging

from .models.ir_mail_server import REVEAL, REVEAL_TOKEN

_logger = logging.getLogger(__name__)


def post_init_hook(env):
    """Encrypt the SMTP passwords Odoo stored in clear before the addon, when
    an encryption key is configured (without one they keep working in clear
    and are encrypted when next saved)."""
    env.cr.execute("SELECT id, smtp_pass FROM ir_mail_server WHERE COALESCE(smtp_pass, '') != ''")
    rows = env.cr.fetchall()
    if not rows:
        return
    Servers = env["ir.mail_server"].sudo()
    try:
        Servers._secret_box()
    except Exception:  # noqa: BLE001 - no key yet: leave them as Odoo stored them
        _logger.info("%s SMTP passwords stay as stored until saved with an encryption key.", len(rows))
        return
    for server_id, password in rows:
        Servers.browse(server_id).smtp_pass = password


def uninstall_hook(env):
    """Give Odoo back its SMTP passwords, so outgoing mail keeps working."""
    servers = env["ir.mail_server"].sudo().with_context(active_test=False, **{REVEAL: REVEAL_TOKEN}).search([])
    for server in servers.filtered("smtp_pass_secret"):
        env.cr.execute("UPDATE ir_mail_server SET smtp_pass = %s WHERE id = %s", [server.smtp_pass, server.id])
