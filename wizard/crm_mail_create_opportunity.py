import base64

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import escape_psql, plaintext2html

from ..mailsync.addresses import domain_of, normalize
from ..mailsync.message import clean_subject, html_to_text


class CrmMailCreateOpportunity(models.TransientModel):
    """Turn a logged email (or several of one conversation) into an
    opportunity, pre-filled from the email; its whole thread follows it, and
    later replies land on it."""

    _name = "crm.mail.create.opportunity"
    _description = "Create an Opportunity from an Email"

    interaction_ids = fields.Many2many("crm.mail.interaction", string="Emails", required=True)
    name = fields.Char("Opportunity", required=True)
    contact_mode = fields.Selection(
        [("existing", "An existing contact"), ("new", "A new contact")], "Customer", default="existing", required=True
    )
    partner_id = fields.Many2one("res.partner", "Contact")
    new_contact_name = fields.Char("Contact Name")
    new_contact_email = fields.Char("Contact Email")
    company_partner_id = fields.Many2one(
        "res.partner", "Company", domain=[("is_company", "=", True)], help="Found from the sender's email domain."
    )
    user_id = fields.Many2one("res.users", "Salesperson")
    team_id = fields.Many2one("crm.team", "Sales Team")
    description = fields.Text()
    existing_lead_id = fields.Many2one("crm.lead", "Already an Opportunity", readonly=True)
    unverified_sender = fields.Boolean(
        compute="_compute_unverified_sender", help="One of the emails failed the receiving server's sender check."
    )
    confirm_unverified = fields.Boolean("Unverified Sender Checked")

    @api.depends("interaction_ids")
    def _compute_unverified_sender(self):
        for wizard in self:
            wizard.unverified_sender = any(check == "fail" for check in wizard.interaction_ids.mapped("sender_check"))

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        ids = self.env.context.get("active_ids") or []
        if self.env.context.get("active_model") != "crm.mail.interaction" or not ids:
            return values
        # Read as the user: an email they may not see cannot be used.
        interactions = self.env["crm.mail.interaction"].browse(ids).exists()
        interactions.check_access("read")
        first = interactions.sorted("date")[:1]
        name, email = first._customer_name_and_email()
        partner = first._partner_of(email)
        owner = first.owner_id
        values.update(
            {
                "interaction_ids": [fields.Command.set(interactions.ids)],
                "name": clean_subject(first.subject) or self.env._("Opportunity from %(email)s", email=email),
                "contact_mode": "existing" if partner else "new",
                "partner_id": partner.id,
                "new_contact_name": name,
                "new_contact_email": email,
                "company_partner_id": self._company_by_domain(email).id,
                "user_id": owner.id,
                "team_id": owner.sale_team_id.id,
                "description": html_to_text(first.body or ""),
                "existing_lead_id": interactions._thread_leads()[:1].id,
            }
        )
        return values

    @api.model
    def _company_by_domain(self, email):
        domain = domain_of(email)
        if not domain or domain in self.env["crm.mail.provider"]._public_domains():
            return self.env["res.partner"]
        return self.env["res.partner"].search(
            [
                ("is_company", "=", True),
                "|",
                ("mail_match_key", "=like", f"%@{escape_psql(domain)}"),
                ("website", "=ilike", f"%{escape_psql(domain)}%"),
            ],
            limit=1,
        )

    def action_open_existing(self):
        self.ensure_one()
        return self.existing_lead_id._get_records_action(context={})

    def action_create(self):
        """Create the opportunity, link the conversation, open it."""
        self.ensure_one()
        self.interaction_ids.check_access("read")
        if self.unverified_sender and not self.confirm_unverified:
            raise UserError(
                self.env._(
                    "The sender of this email could not be verified: its From may be forged. Check with the "
                    "sender by other means, then tick “I checked: create the opportunity anyway”."
                )
            )
        partner = self._customer()
        lead = self.env["crm.lead"].create(
            {
                "name": self.name,
                "type": "opportunity",
                "partner_id": partner.id,
                "email_from": partner.email or self.new_contact_email,
                "user_id": self.user_id.id,
                "team_id": self.team_id.id,
                "description": plaintext2html(self.description) if self.description else False,
            }
        )
        thread = self.interaction_ids | self.interaction_ids._thread()
        thread.sudo().write({"lead_ids": [fields.Command.link(lead.id)]})
        thread.sudo()._update_chatters()
        self._copy_attachments(lead)
        return lead._get_records_action(context={})

    def _customer(self):
        if self.contact_mode == "existing":
            if not self.partner_id:
                raise UserError(self.env._("Choose the contact in “Contact”, or choose “A new contact”."))
            return self.partner_id
        email = normalize(self.new_contact_email or "")
        if not email:
            raise UserError(
                self.env._(
                    "Enter a valid email address in “Contact Email” for the new contact, or pick an existing one."
                )
            )
        return self.env["res.partner"].create(
            {
                "name": self.new_contact_name or email,
                "email": self.new_contact_email,
                "parent_id": self.company_partner_id.id,
            }
        )

    def _copy_attachments(self, lead):
        attachments = self.interaction_ids.sudo().attachment_ids
        if attachments:
            self.env["ir.attachment"].sudo().create(
                [
                    {
                        "name": attachment.name,
                        "mimetype": attachment.mimetype,
                        "datas": attachment.datas or base64.b64encode(b""),
                        "res_model": "crm.lead",
                        "res_id": lead.id,
                    }
                    for attachment in attachments
                ]
            )
