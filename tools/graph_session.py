from email.utils import getaddresses

from odoo.exceptions import UserError

from ..mailsync import graph


class GraphSession:
    """Stands in for Odoo's SMTP connection when an outgoing server sends
    through Microsoft Graph: ``send_email`` calls ``send_message`` and ``quit``
    on it as on smtplib's SMTP.

    Graph takes the recipients from the message's headers, while Odoo removes
    the Bcc header and passes the hidden recipients in the envelope only: they
    are put back in a Bcc header, which Graph delivers and does not show.
    """

    def __init__(self, server, smtp_from):
        self.server = server
        self.smtp_from = smtp_from
        self.from_filter = server.from_filter

    def send_message(self, message, smtp_from, smtp_to_list):
        shown = {
            address.lower() for _name, address in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
        }
        hidden = [address for address in smtp_to_list if address.lower() not in shown]
        if hidden:
            del message["Bcc"]
            message["Bcc"] = ", ".join(hidden)
        # Always the configured mailbox: an app-only Mail.Send token may send
        # as any mailbox of the tenant, so the message's From never chooses.
        sender = (self.server.smtp_user or "").strip()
        if not sender:
            raise UserError(
                self.server.env._(
                    "The outgoing mail server “%(server)s” sends through Microsoft Graph but has no "
                    "Username: enter the Microsoft 365 mailbox that sends.",
                    server=self.server.name,
                )
            )
        token, base_url, cafile = self.server._graph_credentials()
        graph.send_mime(token, sender, message.as_bytes(), base_url=base_url, cafile=cafile)

    def quit(self):
        """Nothing to close: each message is one HTTPS request."""

    close = quit
