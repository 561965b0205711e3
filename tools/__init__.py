# Odoo-side helpers that are not models: the user-facing messages of the
# engine's error codes, and the SMTP stand-in that sends through Microsoft Graph.
