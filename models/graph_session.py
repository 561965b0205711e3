from email.utils import getaddresses

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
        token, base_url, cafile = self.server._graph_credentials()
        graph.send_mime(token, self.server.smtp_user or smtp_from, message.as_bytes(), base_url=base_url, cafile=cafile)

    def quit(self):
        """Nothing to close: each message is one HTTPS request."""

    close = quit
