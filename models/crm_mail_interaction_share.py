from odoo import api, fields, models
from odoo.tools import SQL

from ..mailsync import matching
from .crm_mail_provider import SHARING_READER_SELECTION

SHARING = SHARING_READER_SELECTION
# Widest last: an email shared by several mailboxes is seen as its widest sharer lets.
SHARING_ORDER = {"private": 0, "team": 1, "everyone": 2}
DIRECTIONS = [(matching.RECEIVED, "Received"), (matching.SENT, "Sent")]


class CrmMailInteractionShare(models.Model):
    """One mailbox an email was logged from (issue 13): the logged email
    (``crm.mail.interaction``, one per message and company) is seen by whom
    *any* of its sharers' sharing lets, and goes when its last sharer goes.

    A company logging mailbox logs one message for each of its colleagues
    (``owner_id``, empty for the company's own): a sharer is one mailbox for
    one owner, unique per email (``UNIQUE(interaction, mailbox, owner)``).
    Removing a mailbox without its emails keeps its sharers (``account_id``
    emptied): what its owner shared stays shared."""

    _name = "crm.mail.interaction.share"
    _description = "Logged Email Sharer"
    _order = "id"
    _rec_name = "owner_id"

    interaction_id = fields.Many2one(
        "crm.mail.interaction", "Logged Email", required=True, index=True, readonly=True, ondelete="cascade"
    )
    account_id = fields.Many2one(
        "crm.mail.account", "Mailbox", index="btree_not_null", readonly=True, ondelete="set null"
    )
    owner_id = fields.Many2one("res.users", "Shared By", index=True, readonly=True, ondelete="cascade")
    sharing = fields.Selection(SHARING, required=True, default="private", readonly=True)
    direction = fields.Selection(
        DIRECTIONS, required=True, readonly=True, help="Whether the email was sent or received, for this owner."
    )
    company_id = fields.Many2one(related="interaction_id.company_id", store=True)

    _interaction_mailbox_owner_unique = models.UniqueIndex(
        "(interaction_id, COALESCE(account_id, 0), COALESCE(owner_id, 0))",
        "This mailbox already shares this email.",
    )

    @api.model
    def _visible_domain(self, user):
        """Which sharers let ``user`` see their email, as a domain on this
        model: private (its owner), team (the owner and the users of an
        *active* membership of a sales team in which the owner too has an
        active membership; an archived team gives nothing), everyone (every
        internal user, never a portal user)."""
        active_team = [("active", "=", True), ("crm_team_id.active", "=", True)]
        teammates = [
            *active_team,
            ("crm_team_id.crm_team_member_ids", "any", [("active", "=", True), ("user_id", "=", user.id)]),
        ]
        return [
            "|",
            "|",
            ("owner_id", "=", user.id),
            ("sharing", "=", "everyone" if not user.share else "nobody"),
            "&",
            ("sharing", "=", "team"),
            ("owner_id.crm_team_member_ids", "any", teammates),
        ]

    @api.model
    def _teammate_ids(self, user):
        """The users ``user`` sees the team-shared email of, as the team part
        of ``_visible_domain`` decides it (list of ``res.users`` ids,
        ``user`` included when they have an active membership of an active
        team): one query. ``mail.message``'s record rule holds them as a
        constant, cached with the rule for the user
        (``crm.mail.interaction._message_visible_domain``); a change of a
        membership (user, team, archived) or of a team's archiving clears
        that cache (models/crm_team.py)."""
        self.env["crm.team.member"].flush_model(["user_id", "crm_team_id", "active"])
        self.env["crm.team"].flush_model(["active"])
        rows = self.env.execute_query(
            SQL(
                """SELECT DISTINCT owner.user_id
                     FROM crm_team_member owner
                     JOIN crm_team team ON team.id = owner.crm_team_id AND team.active
                     JOIN crm_team_member me ON me.crm_team_id = team.id AND me.active AND me.user_id = %s
                    WHERE owner.active
                    ORDER BY owner.user_id""",
                user.id,
            )
        )
        return [row[0] for row in rows]

    def unlink(self):
        """The emails left without a sharer go too (with their chatter
        entries and attachments)."""
        interactions = self.sudo().interaction_id
        result = super().unlink()
        interactions.invalidate_recordset(["share_ids"])
        orphans = interactions.exists().filtered(lambda interaction: not interaction.share_ids)
        orphans._delete_email()
        return result
