"""19.0.1.3.0: the addresses of each logged email, structured (issue 12).

Logged emails now keep From, To and Cc as ``[(display name, address key)]``
(``crm_mail_interaction.addresses``), as the message's headers gave them, so
that nothing reads an address back out of the displayed From/To/Cc. Emails
logged before have only the displayed text: :func:`fill_addresses` parses it
once, here, for them.
"""

import json

from odoo.addons.crm_mail_sync.mailsync.addresses import parse_header_addresses

BATCH = 2000


def migrate(cr, version):
    if not version:
        return
    fill_addresses(cr)


def fill_addresses(cr):
    """Give every logged email without ``addresses`` the ones its displayed
    From/To/Cc name, in batches of :data:`BATCH`. Returns how many."""
    filled = 0
    while True:
        cr.execute(
            """SELECT id, sender, recipients, cc FROM crm_mail_interaction
                WHERE addresses IS NULL ORDER BY id LIMIT %s""",
            [BATCH],
        )
        rows = cr.fetchall()
        if not rows:
            return filled
        ids, addresses = [], []
        for interaction_id, sender, recipients, cc in rows:
            ids.append(interaction_id)
            addresses.append(
                json.dumps(
                    {
                        "from": parse_header_addresses(sender or ""),
                        "to": parse_header_addresses(recipients or ""),
                        "cc": parse_header_addresses(cc or ""),
                    }
                )
            )
        cr.execute(
            """UPDATE crm_mail_interaction i SET addresses = v.addresses
                 FROM unnest(%s::int[], %s::jsonb[]) AS v(id, addresses) WHERE i.id = v.id""",
            [ids, addresses],
        )
        filled += len(rows)
