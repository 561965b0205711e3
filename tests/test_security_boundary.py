"""The security boundary (issue 11): what a salesperson, a user of another
company or a former team member can do through the ORM, JSON-RPC
(``/web/dataset/call_kw``, ``/json/2``) and import, whatever the views show.
One test per finding; each names the exception it expects."""

import json
import socket
from datetime import datetime, timedelta

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from odoo.addons.crm_mail_sync.mailsync import autodetect
from odoo.addons.crm_mail_sync.mailsync.testing import ALICE
from odoo.addons.crm_mail_sync.mailsync.testing.smtpd import SmtpServer
from odoo.addons.crm_mail_sync.models.ir_mail_server import GRAPH_AUTH, REVEAL
from odoo.addons.crm_mail_sync.tools.mail_network_policy import STANDARD_PORTS

from .common import GraphSendingCase, InteractionCase, MailSyncCase, allow_sending
from .mail_samples import raw_email

# Fields a salesperson must never set, with a value that differs from theirs.
ADMIN_ONLY_VALUES = {
    "state": "connected",
    "last_error": "forged",
    "sync_paused": True,
    "sync_failures": 3,
    "sync_progress": 100.0,
    "sync_since": "2000-01-01",
    "messages_logged": 1000,
    "last_sync": "2026-01-01 00:00:00",
    "next_sync": "2026-01-01 00:00:00",
}


def closed_port():
    """A port of 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BoundaryCase(MailSyncCase):
    """A salesperson's mailbox, the company's own outgoing server, a second
    company with its own user, and a real SMTP server for the setup wizard."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company_login = ("company@ourcompany.example", "company-secret")
        cls.smtpd = cls.enterClassContext(SmtpServer("none", users=dict([ALICE, company_login])))
        cls.allow_ports(cls.smtpd.port)
        allow_sending(cls)
        # The company's outgoing server, set up by an administrator (loaded as data: no test email).
        cls.company_server = (
            cls.env["ir.mail_server"]
            .with_context(install_mode=True)
            .create(
                {
                    "name": "Company SMTP",
                    "smtp_host": cls.smtpd.host,
                    "smtp_port": cls.smtpd.port,
                    "smtp_encryption": "none",
                    "smtp_user": "company@ourcompany.example",
                    "smtp_pass": "company-secret",
                    "from_filter": "ourcompany.example",
                }
            )
        )
        cls.company_b = cls.env["res.company"].create({"name": "Company B"})
        cls.mine = cls.Account.with_user(cls.salesman).create(cls.imap_values())

    def call_kw(self, model, method, args, kwargs=None):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )

    def call_kw_error(self, model, method, args):
        """The error ``(name, message)`` a ``/web/dataset/call_kw`` call answers."""
        payload = {"jsonrpc": "2.0", "method": "call", "id": 0}
        payload["params"] = {"model": model, "method": method, "args": args, "kwargs": {}}
        with mute_logger("odoo.http"):
            response = self.url_open(
                f"/web/dataset/call_kw/{model}/{method}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
        error = response.json()["error"]["data"]
        return error["name"], error["message"]

    def json2(self, user, model, method, payload):
        """``POST /json/2/<model>/<method>`` with an API key of ``user``: the
        decoded answer (the error's ``name`` on failure)."""
        key = (
            self.env["res.users.apikeys"]
            .with_user(user)
            ._generate(scope="rpc", name="test", expiration_date=datetime.now() + timedelta(days=1))
        )
        with mute_logger("odoo.http"):
            response = self.url_open(
                f"/json/2/{model}/{method}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            )
        return response.json()


@tagged("post_install", "-at_install")
class TestWriteAccessFollowsTheView(BoundaryCase):
    def test_salesperson_cannot_set_administrator_fields_over_the_orm(self):
        mine = self.mine.with_user(self.salesman)
        values = {
            **ADMIN_ONLY_VALUES,
            "user_id": self.colleague.id,
            "company_id": self.company_b.id,
            "smtp_server_id": self.company_server.id,
        }
        for name, value in values.items():
            with self.subTest(field=name), self.assertRaisesRegex(AccessError, rf"\({name}\)"):
                mine.write({name: value})
            with self.subTest(field=name, on="create"), self.assertRaisesRegex(AccessError, rf"\({name}\)"):
                self.Account.with_user(self.salesman).create(
                    self.imap_values(email="other@example.com", **{name: value})
                )
        with self.assertRaisesRegex(AccessError, r"\(state\)"):
            mine.write({"state": "not-a-state"})
        self.assertEqual(
            (self.mine.state, self.mine.smtp_server_id, self.mine.user_id),
            ("draft", self.env["ir.mail_server"], self.salesman),
        )

    def test_salesperson_still_edits_what_the_form_offers(self):
        mine = self.mine.with_user(self.salesman)
        mine.write(
            {
                "imap_login": ALICE[0],
                "imap_password": "new-password",
                "sharing": "team",
                "sync_window_days": 30,
                "user_id": self.salesman.id,  # unchanged values, as a form sends them, pass
                "state": "draft",
            }
        )
        self.assertEqual((self.mine.sharing, self.mine.sync_window_days), ("team", 30))
        self.assertEqual(self.mine._get_secret("imap_password"), "new-password")

    def test_an_administrator_sets_them(self):
        admin = self.env.ref("base.user_admin")
        self.mine.with_user(admin).write({"state": "connected", "sync_window_days": 10})
        self.assertEqual(self.mine.state, "connected")

    def test_import_refuses_them_too(self):
        result = self.Account.with_user(self.salesman).load(
            ["email", "imap_host", "imap_login", "smtp_server_id/.id"],
            [["imported@example.com", "127.0.0.1", "imported@example.com", str(self.company_server.id)]],
        )
        self.assertFalse(result["ids"])
        self.assertIn("smtp_server_id", str(result["messages"]))
        self.assertFalse(self.Account.search([("email", "=", "imported@example.com")]))

    def test_sync_window_is_bounded(self):
        mine = self.mine.with_user(self.salesman)
        for days in (0, -5, 3651, 10**9):
            with self.subTest(days=days), self.assertRaises(ValidationError):
                mine.write({"sync_window_days": days})
        mine.write({"sync_window_days": 3650})
        mine.write({"sync_window_days": 1})

    def test_changing_the_server_clears_the_stored_password(self):
        mine = self.mine.with_user(self.salesman)
        for change in ({"imap_port": 10143}, {"imap_host": "localhost"}, {"imap_security": "starttls"}):
            with self.subTest(change=change):
                mine.write({"imap_password": ALICE[1], "imap_host": self.dovecot.host, "imap_port": self.dovecot.port})
                mine.write({"imap_security": "none"})
                self.assertTrue(mine.imap_password_set)
                mine.write(change)
                self.assertFalse(mine.imap_password_set, "the password was typed for another server")
                self.assertFalse(self.mine.sudo().imap_password_secret)
        # A new password given with the new server is kept.
        mine.write({"imap_port": self.dovecot.port, "imap_security": "none", "imap_password": ALICE[1]})
        self.assertTrue(mine.imap_password_set)
        self.assertEqual(mine.action_test_connection()["params"]["type"], "success")

    def test_unencrypted_only_towards_a_local_server(self):
        Account = self.Account.with_user(self.salesman)
        with self.assertRaisesRegex(ValidationError, "in clear"):
            Account.create(self.imap_values(email="refused@example.com", imap_host="1.1.1.1"))
        public = Account.create(self.imap_values(email="far@example.com", imap_host="1.1.1.1", imap_security="ssl"))
        with self.assertRaisesRegex(ValidationError, "in clear"):
            public.write({"imap_security": "none"})
        for host in ("127.0.0.1", "localhost", "10.1.2.3", "192.168.1.10", "::1"):
            with self.subTest(host=host):
                public.write({"imap_host": host, "imap_security": "none"})
                public.write({"imap_security": "ssl"})
        self.env["ir.config_parameter"].sudo().set_param("crm_mail_sync.allow_unencrypted", "1")
        public.write({"imap_host": "1.1.1.1", "imap_security": "none"})

    def test_the_wizard_only_touches_the_owners_own_outgoing_server(self):
        # As if smtp_server_id had been written before this fix.
        self.mine.sudo().smtp_server_id = self.company_server
        wizard = self.env["crm.mail.setup.wizard"].with_user(self.salesman).create({"email": ALICE[0]})
        wizard.write(
            {
                "step": "sharing",
                "custom_servers": True,
                "imap_host": self.dovecot.host,
                "imap_port": self.dovecot.port,
                "imap_security": "none",
                "imap_login": ALICE[0],
                "smtp_host": self.smtpd.host,
                "smtp_port": self.smtpd.port,
                "smtp_security": "none",
                "password": ALICE[1],
            }
        )
        wizard.action_finish()
        self.company_server.invalidate_recordset()
        self.assertEqual(
            (self.company_server.smtp_host, self.company_server.smtp_user, self.company_server.owner_user_id),
            (self.smtpd.host, "company@ourcompany.example", self.env["res.users"]),
            "the company's server is untouched",
        )
        self.assertEqual(
            self.company_server.with_context(**{REVEAL: True}).sudo()._get_secret("smtp_pass"), "company-secret"
        )
        own = self.mine.sudo().smtp_server_id
        self.assertNotEqual(own, self.company_server)
        self.assertEqual(own.owner_user_id, self.salesman)

    def test_a_company_wide_mailbox_only_uses_a_server_sending_as_itself(self):
        shared = self.Account.create(self.imap_values(email="sales@ourcompany.example", user_id=False))
        shared.smtp_server_id = self.company_server  # from_filter: the whole domain, not this mailbox
        self.assertFalse(shared._own_outgoing_server())
        self.company_server.with_context(install_mode=True).from_filter = "sales@ourcompany.example"
        self.assertEqual(shared._own_outgoing_server(), self.company_server)

    def test_sign_in_activates_only_the_owners_own_server(self):
        self.mine.sudo().smtp_server_id = self.company_server
        self.company_server.with_context(install_mode=True).active = False
        self.mine.with_user(self.salesman).write({"imap_password": ALICE[1]})
        self.mine.with_user(self.salesman)._after_oauth_sign_in()
        self.assertFalse(self.company_server.active)


@tagged("post_install", "-at_install")
class TestWriteAccessOverRpc(HttpCase, BoundaryCase):
    def test_call_kw_refuses_the_outgoing_server_and_the_owner(self):
        self.authenticate("sam", "sam")
        for name, value in (("smtp_server_id", self.company_server.id), ("user_id", self.colleague.id)):
            with self.subTest(field=name):
                error, message = self.call_kw_error("crm.mail.account", "write", [self.mine.ids, {name: value}])
                self.assertEqual(error, "odoo.exceptions.AccessError")
                self.assertIn(f"({name})", message)
        self.assertFalse(self.mine.smtp_server_id)
        self.assertEqual(self.mine.user_id, self.salesman)

    def test_the_sent_folder_cannot_be_a_colleagues_folder(self):
        theirs = self.Account.with_user(self.colleague).create(self.imap_values(login="colleague@example.com"))
        their_folder = self.env["crm.mail.folder"].sudo().create({"account_id": theirs.id, "name": "Private/Sent"})
        my_folder = self.env["crm.mail.folder"].sudo().create({"account_id": self.mine.id, "name": "Sent"})
        self.authenticate("sam", "sam")
        error, message = self.call_kw_error(
            "crm.mail.account", "write", [self.mine.ids, {"sent_folder_id": their_folder.id}]
        )
        self.assertEqual(error, "odoo.exceptions.ValidationError")
        self.assertIn("must be one of this mailbox's folders", message)
        self.assertFalse(self.mine.sent_folder_id)
        # Their own folder is accepted, as the form offers it.
        self.call_kw("crm.mail.account", "write", [self.mine.ids, {"sent_folder_id": my_folder.id}])
        self.assertEqual(self.mine.sent_folder_id, my_folder)

    def test_json2_refuses_them_too(self):
        answer = self.json2(
            self.salesman, "crm.mail.account", "write", {"ids": self.mine.ids, "vals": {"state": "connected"}}
        )
        self.assertEqual(answer["name"], "odoo.exceptions.AccessError", answer)
        answer = self.json2(
            self.salesman,
            "crm.mail.account",
            "create",
            {"vals_list": [self.imap_values(email="rpc@example.com", smtp_server_id=self.company_server.id)]},
        )
        self.assertEqual(answer["name"], "odoo.exceptions.AccessError", answer)
        self.assertEqual(self.mine.state, "draft")

    def test_the_smtp_password_is_never_read_back_through_a_context_key(self):
        self.assertFalse(self.company_server.with_context(**{REVEAL: True}).smtp_pass)
        self.authenticate("admin", "admin")
        found = self.call_kw(
            "ir.mail_server", "read", [self.company_server.ids, ["smtp_pass"]], {"context": {REVEAL: True}}
        )
        self.assertNotIn("company-secret", json.dumps(found))
        self.assertEqual(found[0]["smtp_pass"], False)


@tagged("post_install", "-at_install")
class TestNoPortScanning(BoundaryCase):
    """A failed Test Connection to a port that is not a usual mail port says
    the same whatever happened there, to anyone but an administrator."""

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param("crm_mail_sync.allowed_ports", "")

    def failure(self, port, security="none"):
        mine = self.mine.with_user(self.salesman)
        mine.write({"imap_port": port, "imap_security": security, "imap_password": "wrong"})
        mine.action_test_connection()
        return self.mine.last_error.replace(str(port), "PORT")

    def test_one_neutral_message_for_any_failure_on_a_non_standard_port(self):
        refused = self.failure(closed_port())
        wrong_password = self.failure(self.dovecot.port)
        wrong_tls = self.failure(self.dovecot.port, security="ssl")
        not_imap = self.failure(self.smtpd.port)
        self.assertEqual(len({refused, wrong_password, wrong_tls, not_imap}), 1, refused)
        self.assertIn("not a usual mail port", refused)

    def test_the_wizard_says_the_same(self):
        wizard = self.env["crm.mail.setup.wizard"].with_user(self.salesman).create({"email": ALICE[0]})
        results = []
        for port in (closed_port(), self.dovecot.port):
            wizard.write(
                {
                    "imap_host": self.dovecot.host,
                    "imap_port": port,
                    "imap_security": "none",
                    "imap_login": ALICE[0],
                    "password": "wrong",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "smtp_security": "none",
                }
            )
            wizard.action_test()
            results.append(
                (wizard.imap_result.replace(str(port), "PORT"), wizard.smtp_result.replace(str(port), "PORT"))
            )
        self.assertEqual(results[0], results[1])
        self.assertIn("not a usual mail port", results[0][0])

    def test_allowed_ports_and_administrators_get_the_details(self):
        self.allow_ports(self.dovecot.port)
        self.assertIn("rejected the user name or password", self.failure(self.dovecot.port))
        self.env["ir.config_parameter"].sudo().set_param("crm_mail_sync.allowed_ports", "")
        mine = self.mine.with_user(self.env.ref("base.user_admin"))
        mine.write({"imap_password": "wrong"})
        mine.action_test_connection()
        self.assertIn("rejected the user name or password", self.mine.last_error)

    def test_autodetection_only_probes_usual_ports(self):
        ports = {port for guesses in autodetect.GUESSES.values() for _prefix, port, _security in guesses}
        self.assertLessEqual(ports, STANDARD_PORTS)


@tagged("post_install", "-at_install")
class TestGraphSendsAsTheConfiguredMailboxOnly(GraphSendingCase):
    def test_without_a_username_nothing_is_sent_as_the_messages_from(self):
        with self.assertRaisesRegex(UserError, "no Username"):
            self.env["ir.mail_server"].create(
                {"name": "Microsoft 365", "smtp_authentication": GRAPH_AUTH, "from_filter": ALICE[0]}
            )
        self.assertFalse(self.microsoft.graph_sent)

    def test_the_username_sends_whatever_the_from(self):
        server = self.env["ir.mail_server"].create(
            {"name": "Microsoft 365", "smtp_authentication": GRAPH_AUTH, "smtp_user": ALICE[0]}
        )
        self.microsoft.graph_sent.clear()
        message = server._build_email__(
            email_from="ceo@ourcompany.example", email_to=["bea@customer.example"], subject="Hi", body="Hello"
        )
        server.send_email(message, mail_server_id=server.id)
        self.assertEqual(self.microsoft.graph_sent[-1][0], ALICE[0])


@tagged("post_install", "-at_install")
class TestSharingIsExact(InteractionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Company B"})
        cls.bella = new_test_user(
            cls.env,
            "bella",
            email="bella@company-b.example",
            groups="sales_team.group_sale_salesman,base.group_partner_manager",
            name="Bella of B",
            company_id=cls.company_b.id,
            company_ids=[(6, 0, [cls.company_b.id])],
        )
        cls.a_contact = cls.env["res.partner"].create(
            {"name": "Alma of A", "email": "alma@a-customer.example", "company_id": cls.company_a.id}
        )

    def log(self, account, subject):
        logged, _fetched = self.ingest(account, raw_email("bea@customer.example", account.email, subject=subject))
        return logged

    def assert_hidden(self, user, interaction, **context):
        env = self.env(user=user, context=dict(self.env.context, **context))
        self.assertFalse(env["crm.mail.interaction"].search([("id", "=", interaction.id)]))
        entries = interaction.sudo().mail_message_ids
        self.assertTrue(entries)
        chatter = env["mail.message"].search([("model", "=", "res.partner"), ("res_id", "=", self.customer.id)])
        self.assertFalse(chatter & entries)
        self.assertFalse(env["mail.message"].search([("id", "in", entries.ids)]))
        with self.assertRaises(AccessError):
            entries.with_env(env).read(["body"])

    def test_another_companys_everyone_email_stays_in_its_company(self):
        self.otto_box.sharing = "everyone"
        logged = self.log(self.otto_box, "Company A pricing")
        self.assertEqual(logged.company_id, self.company_a)
        self.assert_hidden(self.bella, logged)
        self.assertEqual(self.customer.with_user(self.bella).crm_mail_interaction_count, 0)

    def test_a_former_team_member_no_longer_sees_team_mail(self):
        logged = self.log(self.sam_box, "Team A pricing")
        self.assertEqual(self.env["crm.mail.interaction"].with_user(self.tina).search([("id", "=", logged.id)]), logged)
        membership = self.env["crm.team.member"].search(
            [("user_id", "=", self.tina.id), ("crm_team_id", "=", self.team_a.id)]
        )
        membership.active = False
        self.assert_hidden(self.tina, logged)
        # Whatever the context a client sends (archived records shown).
        self.assert_hidden(self.tina, logged, active_test=False)

    def test_the_team_of_a_former_member_no_longer_sees_their_mail(self):
        membership = self.env["crm.team.member"].search(
            [("user_id", "=", self.sam.id), ("crm_team_id", "=", self.team_a.id)]
        )
        membership.active = False
        logged = self.log(self.sam_box, "Sam's mail after leaving Team A")
        self.assert_hidden(self.tina, logged)
        self.assert_hidden(self.tina, logged, active_test=False)

    def test_team_changes_apply_to_a_chatter_already_read(self):
        """The reader's teammates are cached with mail.message's record rule:
        a membership archived or created, a team archived, applies at the
        next read all the same."""
        logged = self.log(self.sam_box, "Team A pricing")
        entries = self.chatter(self.customer).filtered(lambda message: message.crm_mail_interaction_id == logged)
        self.assertTrue(entries)
        self.assertEqual(self.chatter(self.customer, self.tina) & entries, entries)
        self.assertFalse(self.chatter(self.customer, self.otto) & entries)
        membership = self.env["crm.team.member"].search(
            [("user_id", "=", self.tina.id), ("crm_team_id", "=", self.team_a.id)]
        )
        membership.active = False
        self.assertFalse(self.chatter(self.customer, self.tina) & entries)
        membership.active = True
        self.assertEqual(self.chatter(self.customer, self.tina) & entries, entries)
        # A new teammate reads it at once.
        self.env["crm.team.member"].create({"user_id": self.otto.id, "crm_team_id": self.team_a.id})
        self.assertEqual(self.chatter(self.customer, self.otto) & entries, entries)
        # An archived team shares nothing any more.
        self.team_a.action_archive()
        for user in (self.tina, self.otto):
            self.assertFalse(self.chatter(self.customer, user) & entries)
        self.assertEqual(self.chatter(self.customer, self.sam) & entries, entries)

    def test_secondary_addresses_follow_the_contacts_company(self):
        address = self.env["crm.mail.partner.email"].create(
            {"partner_id": self.a_contact.id, "email": "alma@home.example"}
        )
        Address = self.env["crm.mail.partner.email"].with_user(self.bella)
        self.assertFalse(Address.search([("id", "=", address.id)]))
        with self.assertRaises(AccessError):
            Address.create({"partner_id": self.a_contact.id, "email": "attacker@evil.example"})
        with self.assertRaises(AccessError):
            address.with_user(self.bella).write({"email": "attacker@evil.example"})
        with self.assertRaises(AccessError):
            address.with_user(self.bella).unlink()
        # Who may edit the contact adds one.
        own = self.env["res.partner"].with_user(self.bella).create({"name": "Bo of B", "email": "bo@b.example"})
        Address.create({"partner_id": own.id, "email": "bo@home.example"})
        self.assertEqual(own.secondary_email_ids.email, "bo@home.example")

    def test_a_wildcard_reference_links_no_other_conversation(self):
        earlier, _fetched = self.ingest(
            self.sam_box,
            raw_email("bea@customer.example", self.sam.email, subject="Re: offer", in_reply_to="<offer-1@example.com>"),
        )
        raw = raw_email(
            "bea@customer.example", self.sam.email, subject="Forged", in_reply_to="<%>", references="<%> <_@_>"
        )
        forged, _fetched = self.ingest(self.sam_box, raw)
        self.assertIn("<%>", forged.thread_refs)
        self.assertFalse(forged.with_user(self.sam)._thread())
        # A real reply still finds its conversation.
        reply, _fetched = self.ingest(
            self.sam_box, raw_email("bea@customer.example", self.sam.email, in_reply_to=earlier.message_id)
        )
        self.assertEqual(reply.with_user(self.sam)._thread(), earlier)

    def test_a_wildcard_sender_domain_finds_no_company(self):
        self.env["res.partner"].create(
            {
                "name": "Some Company",
                "is_company": True,
                "email": "info@some.example",
                "website": "https://some.example",
            }
        )
        Wizard = self.env["crm.mail.create.opportunity"].with_user(self.sam)
        for address in ("x@%", "x@_ome.example", "x@%.example"):
            with self.subTest(address=address):
                self.assertFalse(Wizard._company_by_domain(address))
        self.assertTrue(Wizard._company_by_domain("bea@some.example"))

    def test_the_remove_wizard_counts_only_what_the_user_sees(self):
        self.log(self.otto_box, "Otto's private mail")
        wizard = self.env["crm.mail.account.remove"].with_user(self.sam).create({"account_id": self.otto_box.id})
        self.assertEqual(wizard.logged_count, 0)
        wizard = self.env["crm.mail.account.remove"].with_user(self.otto).create({"account_id": self.otto_box.id})
        self.assertEqual(wizard.logged_count, 1)


@tagged("post_install", "-at_install")
class TestSharingIsExactOverRpc(HttpCase, InteractionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Company B"})
        cls.bella = new_test_user(
            cls.env,
            "bella",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company_b.id,
            company_ids=[(6, 0, [cls.company_b.id])],
        )

    def thread_messages(self, record):
        return self.make_jsonrpc_request(
            "/mail/thread/messages", {"thread_model": record._name, "thread_id": record.id, "fetch_params": {}}
        )

    def search_read(self, domain, context=None):
        return self.make_jsonrpc_request(
            "/web/dataset/call_kw/mail.message/search_read",
            {
                "model": "mail.message",
                "method": "search_read",
                "args": [domain, ["subject", "body"]],
                "kwargs": {"context": context or {}},
            },
        )

    def test_another_company_reads_nothing_through_mail_routes(self):
        self.otto_box.sharing = "everyone"
        logged, _fetched = self.ingest(
            self.otto_box, raw_email("bea@customer.example", self.otto.email, subject="Company A secret price")
        )
        self.authenticate("bella", "bella")
        self.assertNotIn("Company A secret price", json.dumps(self.thread_messages(self.customer)))
        self.assertNotIn(
            "Company A secret price",
            json.dumps(self.search_read([("model", "=", "res.partner"), ("res_id", "=", self.customer.id)])),
        )
        entries = logged.sudo().mail_message_ids.ids
        with self.assertRaisesRegex(JsonRpcException, "AccessError"), mute_logger("odoo.http"):
            self.make_jsonrpc_request(
                "/web/dataset/call_kw/mail.message/read",
                {"model": "mail.message", "method": "read", "args": [entries, ["body"]], "kwargs": {}},
            )
        # Sam, of company A, still reads it there.
        self.authenticate("sam", "sam")
        self.assertIn("Company A secret price", json.dumps(self.thread_messages(self.customer)))

    def test_a_team_member_who_leaves_stops_reading_at_once(self):
        self.ingest(self.sam_box, raw_email("bea@customer.example", self.sam.email, subject="Team A secret price"))
        self.authenticate("tina", "tina")
        self.assertIn("Team A secret price", json.dumps(self.thread_messages(self.customer)))
        self.env["crm.team.member"].search(
            [("user_id", "=", self.tina.id), ("crm_team_id", "=", self.team_a.id)]
        ).active = False
        self.assertNotIn("Team A secret price", json.dumps(self.thread_messages(self.customer)))
        found = self.search_read([("model", "=", "res.partner"), ("res_id", "=", self.customer.id)])
        self.assertNotIn("Team A secret price", json.dumps(found))

    def test_a_former_team_member_reads_nothing_through_mail_routes(self):
        self.ingest(self.sam_box, raw_email("bea@customer.example", self.sam.email, subject="Team A secret price"))
        self.env["crm.team.member"].search(
            [("user_id", "=", self.tina.id), ("crm_team_id", "=", self.team_a.id)]
        ).active = False
        self.authenticate("tina", "tina")
        self.assertNotIn("Team A secret price", json.dumps(self.thread_messages(self.customer)))
        for context in ({}, {"active_test": False}):
            found = self.search_read([("model", "=", "res.partner"), ("res_id", "=", self.customer.id)], context)
            self.assertNotIn("Team A secret price", json.dumps(found))
