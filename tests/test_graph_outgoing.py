import email
import email.policy
from email.message import EmailMessage

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE
from odoo.addons.crm_mail_sync.models.ir_mail_server import GRAPH_AUTH

from .common import GraphSendingCase


@tagged("post_install", "-at_install")
class TestGraphOutgoingServer(GraphSendingCase):
    """An outgoing server that sends through Microsoft Graph with the app
    registration's Mail.Send permission, against a local server answering as
    Graph's documentation shows (Graph cannot be reached from here)."""

    def create_server(self):
        return self.env["ir.mail_server"].create(
            {"name": "Microsoft 365", "smtp_authentication": GRAPH_AUTH, "smtp_user": ALICE[0], "from_filter": ALICE[0]}
        )

    def test_saving_sends_the_test_email_through_graph(self):
        self.create_server()
        sender, raw = self.microsoft.graph_sent[-1]
        self.assertEqual(sender, ALICE[0])
        sent = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertIn("admin@yourcompany.example.com", sent["To"])
        self.assertIn("Microsoft 365", sent["Subject"])

    def test_hidden_recipients_are_delivered(self):
        server = self.create_server()
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = ALICE[0], "maria@acme-corp.example", "Quote"
        message["Bcc"] = "boss@yourcompany.example.com"
        message.set_content("Hello")
        self.env["ir.mail_server"].send_email(message, mail_server_id=server.id)
        raw = self.microsoft.graph_sent[-1][1]
        self.assertIn(b"Bcc: boss@yourcompany.example.com", raw)

    def test_missing_mail_send_permission_refuses_the_settings(self):
        self.microsoft.graph_app_permissions.clear()
        with self.assertRaisesRegex(UserError, "Mail.Send"), self.env.cr.savepoint():
            self.create_server()

    def test_odoos_test_connection_button_sends_through_graph(self):
        server = self.create_server()
        self.microsoft.graph_sent.clear()
        action = server.test_smtp_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(len(self.microsoft.graph_sent), 1, "a real test message went through Graph")
        server.test_smtp_connection(autodetect_max_email_size=True)
        self.assertEqual(server.max_email_size, 4, "Graph's request limit, in MB")
