"""19.0.1.1.0: the chatter entries of logged emails no longer store the
From/To/Cc/date block (the web client renders it for each reader, in their
language and time zone) nor any remote content (blocked until "Show images").

Every existing entry gets its email's body again, as new entries are written
(``crm.mail.interaction._chatter_body``), a thousand emails at a time.
"""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    Interaction = env["crm.mail.interaction"].with_context(active_test=False)
    cr.execute("SELECT DISTINCT crm_mail_interaction_id FROM mail_message WHERE crm_mail_interaction_id IS NOT NULL")
    ids = [row[0] for row in cr.fetchall()]
    for start in range(0, len(ids), 1000):
        interactions = Interaction.browse(ids[start : start + 1000])
        for interaction in interactions:
            interaction.mail_message_ids.write({"body": interaction._chatter_body()[0]})
        env.flush_all()
        env.invalidate_all()
