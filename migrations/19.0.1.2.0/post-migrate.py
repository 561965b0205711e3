"""19.0.1.2.0: one logged email per message and company, with its sharers
(issue 13).

Until 1.1.0 the same message synced from several colleagues' mailboxes was
one ``crm_mail_interaction`` row per owner (``UNIQUE(owner_key,
message_key)``), each with its own chatter entries and attachments. Now it is
one row per company and message identity, and each mailbox that logged it is
a sharer (``crm.mail.interaction.share``: mailbox, owner, sharing, direction).

:func:`merge_per_owner_rows` gives every old row its sharer, merges the rows
of the same message and company into the oldest one (sharers, contacts,
opportunities, one chatter entry per record, one copy of the attachments),
deletes the others, and drops the old per-owner columns (their foreign key
deleted the whole email with its owner's account). Nothing of a sharer is
lost: its mailbox, owner, sharing and direction move to the kept email. The
unique index on (company, message_key) is created by Odoo after this script.
"""

from odoo import SUPERUSER_ID, api
from odoo.tools import sql

SHARER_COLUMNS = ("owner_id", "account_id")


def migrate(cr, version):
    if not version:
        return
    merge_per_owner_rows(api.Environment(cr, SUPERUSER_ID, {}))


def merge_per_owner_rows(env):
    """Turn per-owner rows of ``crm_mail_interaction`` into emails with
    sharers, in SQL (attachments through the ORM, so their files are
    collected). Returns the number of rows merged away."""
    cr = env.cr
    cr.execute("ALTER TABLE crm_mail_interaction DROP CONSTRAINT IF EXISTS crm_mail_interaction_owner_message_unique")
    if not all(sql.column_exists(cr, "crm_mail_interaction", column) for column in SHARER_COLUMNS):
        return 0
    # Every old row gets its sharer, as it was logged.
    cr.execute(
        """INSERT INTO crm_mail_interaction_share (interaction_id, account_id, owner_id, sharing, direction, company_id,
                                                   create_uid, write_uid, create_date, write_date)
           SELECT i.id, a.id, u.id, COALESCE(i.sharing, 'private'), COALESCE(i.direction, 'received'), i.company_id,
                  %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
             FROM crm_mail_interaction i
             LEFT JOIN crm_mail_account a ON a.id = i.account_id
             LEFT JOIN res_users u ON u.id = i.owner_id
            WHERE NOT EXISTS (SELECT 1 FROM crm_mail_interaction_share s WHERE s.interaction_id = i.id)
           ON CONFLICT DO NOTHING""",
        {"uid": SUPERUSER_ID},
    )
    cr.execute(
        """SELECT array_agg(id ORDER BY id) FROM crm_mail_interaction
            GROUP BY COALESCE(company_id, 0), message_key HAVING count(*) > 1"""
    )
    groups = [row[0] for row in cr.fetchall()]
    merged = 0
    for keep, *others in groups:
        for other in others:
            _merge(env, keep, other)
            merged += 1
    if groups:
        cr.execute("DELETE FROM crm_mail_interaction WHERE id = ANY(%s)", [[i for g in groups for i in g[1:]]])
    # The email's widest sharing, sole sharer and company direction, and
    # their copies on its chatter entries (read by the mail.message rule).
    cr.execute(
        """UPDATE crm_mail_interaction i
              SET sharing = w.sharing, direction = w.direction,
                  sole_owner_id = CASE WHEN w.owners = 1 AND w.no_owner = 0 THEN w.owner END
             FROM (SELECT interaction_id,
                          (array_agg(sharing ORDER BY CASE sharing WHEN 'everyone' THEN 2
                                                                   WHEN 'team' THEN 1 ELSE 0 END DESC))[1] AS sharing,
                          CASE WHEN bool_or(direction = 'sent') THEN 'sent' ELSE 'received' END AS direction,
                          count(DISTINCT owner_id) AS owners, count(*) FILTER (WHERE owner_id IS NULL) AS no_owner,
                          min(owner_id) AS owner
                     FROM crm_mail_interaction_share GROUP BY interaction_id) w
            WHERE w.interaction_id = i.id"""
    )
    cr.execute(
        """UPDATE mail_message m
              SET crm_mail_sharing = i.sharing, crm_mail_company_id = i.company_id, crm_mail_owner_id = i.sole_owner_id
             FROM crm_mail_interaction i
            WHERE m.crm_mail_interaction_id = i.id
              AND (m.crm_mail_sharing IS DISTINCT FROM i.sharing
                   OR m.crm_mail_company_id IS DISTINCT FROM i.company_id
                   OR m.crm_mail_owner_id IS DISTINCT FROM i.sole_owner_id)"""
    )
    cr.execute(
        "ALTER TABLE crm_mail_interaction DROP COLUMN IF EXISTS owner_id, DROP COLUMN IF EXISTS account_id, "
        "DROP COLUMN IF EXISTS owner_key"
    )
    env.invalidate_all()
    return merged


def _merge(env, keep, other):
    """Move what the row ``other`` holds onto the row ``keep`` (same message)."""
    cr = env.cr
    # Its sharers (the old rows had distinct owners: no sharer is dropped).
    cr.execute(
        """UPDATE crm_mail_interaction_share s SET interaction_id = %(keep)s
            WHERE s.interaction_id = %(other)s AND NOT EXISTS (
                SELECT 1 FROM crm_mail_interaction_share t
                 WHERE t.interaction_id = %(keep)s AND COALESCE(t.account_id, 0) = COALESCE(s.account_id, 0)
                   AND COALESCE(t.owner_id, 0) = COALESCE(s.owner_id, 0))""",
        {"keep": keep, "other": other},
    )
    for table, column in (
        ("crm_mail_interaction_res_partner_rel", "partner_id"),
        ("crm_mail_interaction_crm_lead_rel", "lead_id"),
    ):
        cr.execute(
            f"""INSERT INTO {table} (interaction_id, {column})
                SELECT %(keep)s, {column} FROM {table} WHERE interaction_id = %(other)s
                ON CONFLICT DO NOTHING""",  # noqa: S608 - table and column names are the constants above
            {"keep": keep, "other": other},
        )
    # One copy of the attachments: the kept email's, else this one's.
    Attachment = env["ir.attachment"].sudo()
    kept_files = Attachment.search([("res_model", "=", "crm.mail.interaction"), ("res_id", "=", keep)])
    files = Attachment.search([("res_model", "=", "crm.mail.interaction"), ("res_id", "=", other)])
    if kept_files:
        files.unlink()
    else:
        files.write({"res_id": keep})
        kept_files = files
    # One chatter entry per record: this row's entries on a record the kept
    # email is on already go, the others move to it with its attachments.
    cr.execute(
        """DELETE FROM mail_message m
            WHERE m.crm_mail_interaction_id = %(other)s AND EXISTS (
                SELECT 1 FROM mail_message k
                 WHERE k.crm_mail_interaction_id = %(keep)s AND k.model = m.model AND k.res_id = m.res_id)""",
        {"keep": keep, "other": other},
    )
    cr.execute(
        "UPDATE mail_message SET crm_mail_interaction_id = %s WHERE crm_mail_interaction_id = %s RETURNING id",
        [keep, other],
    )
    moved = [row[0] for row in cr.fetchall()]
    if moved:
        cr.execute("DELETE FROM message_attachment_rel WHERE message_id = ANY(%s)", [moved])
        if kept_files:
            cr.execute(
                """INSERT INTO message_attachment_rel (message_id, attachment_id)
                   SELECT m, a FROM unnest(%s::int[]) m, unnest(%s::int[]) a""",
                [moved, kept_files.ids],
            )
