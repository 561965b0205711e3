from odoo import api, models

#: The fields of a membership that decide who sees a colleague's team-shared email.
MEMBERSHIP_FIELDS = {"user_id", "crm_team_id", "active"}


def cleared(records, result):
    """``result``, once Odoo's cache of record rule domains is cleared: it
    holds each reader's teammates (``crm.mail.interaction._message_visible_domain``).
    At once in this worker, in the others through Odoo's cache signalling (as
    when a user's groups change)."""
    records.env.registry.clear_cache()
    return result


class CrmTeamMember(models.Model):
    """Who shares a team with whom decides who sees team-shared email: a
    membership created, deleted, archived or moved applies at the next read."""

    _inherit = "crm.team.member"

    @api.model_create_multi
    def create(self, vals_list):
        return cleared(self, super().create(vals_list))

    def write(self, vals):
        result = super().write(vals)
        return cleared(self, result) if MEMBERSHIP_FIELDS.intersection(vals) else result

    def unlink(self):
        return cleared(self, super().unlink())


class CrmTeam(models.Model):
    """An archived team, or a deleted one (its memberships go with it, in
    SQL), no longer shares email, from the next read on."""

    _inherit = "crm.team"

    def write(self, vals):
        result = super().write(vals)
        return cleared(self, result) if "active" in vals else result

    def unlink(self):
        return cleared(self, super().unlink())
