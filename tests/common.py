"""What the Odoo test classes share: the base classes, the encryption key
in the environment, the local Microsoft identity platform, a web client in
another language.

Test tags (Odoo's ``--test-tags``), besides ``post_install``:
``crm_mail_sync_imap`` on the classes that start a real Dovecot (inherited
from :class:`MailSyncCase` and :class:`FrenchSalespersonCase`),
``crm_mail_sync_tour`` on the classes that run browser tours."""

import os
from unittest.mock import patch

from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from odoo.addons.crm_mail_sync.mailsync import secrets
from odoo.addons.crm_mail_sync.mailsync.testing import ALICE, BOB
from odoo.addons.crm_mail_sync.mailsync.testing.dovecot import DovecotServer
from odoo.addons.crm_mail_sync.mailsync.testing.oauth_server import OAuthServer
from odoo.addons.crm_mail_sync.models.crm_mail_secret_mixin import KEY_ENV

from .mail_samples import MemoryBatch

IMAP_TAG = "crm_mail_sync_imap"
TOUR_TAG = "crm_mail_sync_tour"
PDF = b"%PDF-1.4 quote " * 100
MICROSOFT_APP = ("app-id", "app-secret-value")  # the app registration's client id and secret


def use_encryption_key(case_class, key=None):
    """Put ``key`` (a fresh one by default) in the environment for the class,
    as an administrator would configure it; returns the key."""
    key = key or secrets.generate_key()
    case_class.startClassPatcher(patch.dict(os.environ, {KEY_ENV: key}))
    return key


def use_local_microsoft(case_class, *users, clients=None, app=True, graph=True):
    """A local Microsoft identity platform (and Graph) for the class, knowing
    ``users`` (addresses), the mailboxes' sign-in pointed at it; with ``app``,
    our app registration (:data:`MICROSOFT_APP`) entered in the settings.
    Returns the :class:`OAuthServer`."""
    microsoft = case_class.enterClassContext(OAuthServer(clients=clients or dict([MICROSOFT_APP]), users=list(users)))
    params = case_class.env["ir.config_parameter"]
    params.set_param("crm_mail_sync.microsoft_authority_host", f"https://localhost:{microsoft.port}")
    params.set_param("crm_mail_sync.microsoft_authority_cafile", microsoft.certs.ca_file)
    if graph:
        params.set_param("crm_mail_sync.microsoft_graph_url", microsoft.graph_url)
    if app:
        case_class.env["res.config.settings"].create(
            {
                "crm_mail_sync_microsoft_tenant_id": microsoft.tenant,
                "crm_mail_sync_microsoft_client_id": MICROSOFT_APP[0],
                "crm_mail_sync_microsoft_client_secret": MICROSOFT_APP[1],
            }
        ).execute()
    return microsoft


def allow_sending(case_class):
    """Odoo never sends in tests; these send, to 127.0.0.1 only."""
    IrMailServer = type(case_class.env["ir.mail_server"])
    case_class.startClassPatcher(patch.object(IrMailServer, "_disable_send", classmethod(lambda cls: False)))


def load_language(env, lang, modules=("web", "mail", "crm", "crm_mail_sync")):
    """``lang`` active, with the translations of ``modules`` (the web client's by default)."""
    env["res.lang"]._activate_lang(lang)
    env["ir.module.module"]._load_module_terms(list(modules), [lang])


def oauth_mailbox_values(dovecot, address=ALICE[0]):
    """A mailbox of ``dovecot`` that signs in with Microsoft."""
    return {
        "email": address,
        "auth_method": "oauth_microsoft",
        "imap_host": dovecot.host,
        "imap_port": dovecot.port,
        "imap_security": "none",
        "imap_login": address,
    }


@tagged(IMAP_TAG)
class MailSyncCase(TransactionCase):
    """A real private Dovecot on 127.0.0.1 for the class, an encryption key in
    the environment (as an administrator would configure it), and two
    salespeople."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot = cls.enterClassContext(DovecotServer(users=dict([ALICE, BOB])))
        cls.encryption_key = use_encryption_key(cls)
        cls.salesman = new_test_user(
            cls.env, login="sam", name="Sam Seller", email=ALICE[0], groups="sales_team.group_sale_salesman"
        )
        cls.colleague = new_test_user(
            cls.env, login="cleo", name="Cleo Colleague", email=BOB[0], groups="sales_team.group_sale_salesman"
        )
        cls.Account = cls.env["crm.mail.account"]
        # The test servers listen on random ports: as an administrator of a
        # server on a non-usual port would, allow them (detailed failures).
        cls.allow_ports(cls.dovecot.port)

    @classmethod
    def allow_ports(cls, *ports):
        params = cls.env["ir.config_parameter"].sudo()
        allowed = (params.get_param("crm_mail_sync.allowed_ports") or "").split(",")
        params.set_param("crm_mail_sync.allowed_ports", ",".join(filter(None, [*allowed, *map(str, ports)])))

    @classmethod
    def imap_values(cls, login=ALICE[0], password=ALICE[1], **values):
        return {
            "email": login,
            "imap_host": cls.dovecot.host,
            "imap_port": cls.dovecot.port,
            "imap_security": "none",
            "imap_login": login,
            "imap_password": password,
            **values,
        }


class GraphSendingCase(MailSyncCase):
    """An outgoing server may send through Microsoft Graph with the app
    registration's Mail.Send permission, against the local Graph
    (:attr:`microsoft`, its sent messages cleared before each test)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.microsoft = use_local_microsoft(cls, ALICE[0])
        allow_sending(cls)
        cls.env.user.email = "admin@yourcompany.example.com"

    def setUp(self):
        super().setUp()
        self.microsoft.graph_sent.clear()
        self.microsoft.graph_app_permissions.add("Mail.Send")


class InteractionCase(TransactionCase):
    """Two sales teams, three salespeople, a customer with a secondary address
    and an open opportunity; mailboxes are created directly (no server is
    needed to log what a sync hands over)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "info@ourcompany.example"
        groups = "sales_team.group_sale_salesman"
        cls.sam = new_test_user(cls.env, "sam", email="sam@ourcompany.example", groups=groups, name="Sam Seller")
        cls.tina = new_test_user(cls.env, "tina", email="tina@ourcompany.example", groups=groups, name="Tina Teammate")
        cls.otto = new_test_user(cls.env, "otto", email="otto@ourcompany.example", groups=groups, name="Otto Other")
        Team = cls.env["crm.team"]
        cls.team_a = Team.create({"name": "Team A", "member_ids": [(6, 0, [cls.sam.id, cls.tina.id])]})
        cls.team_b = Team.create({"name": "Team B", "member_ids": [(6, 0, [cls.otto.id])]})
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Bea Buyer",
                "email": "bea@customer.example",
                "secondary_email_ids": [(0, 0, {"email": "Bea.Private@Gmail.com"})],
            }
        )
        cls.opportunity = cls.env["crm.lead"].create(
            {"name": "Bea's big order", "type": "opportunity", "partner_id": cls.customer.id, "user_id": cls.sam.id}
        )
        cls.sam_box = cls.mailbox(cls.sam, "team")
        cls.otto_box = cls.mailbox(cls.otto, "private")

    @classmethod
    def mailbox(cls, user, sharing):
        return (
            cls.env["crm.mail.account"]
            .sudo()
            .create(
                {
                    "email": user.email,
                    "user_id": user.id,
                    "imap_host": "imap.ourcompany.example",
                    "imap_login": user.email,
                    "sharing": sharing,
                }
            )
        )

    def ingest(self, account, *raws, role="inbox"):
        """What the sync does with a batch of the inbox (or of the sent folder,
        ``role="sent"``): headers first, bodies of matches."""
        batch = MemoryBatch(raws, folder="Sent" if role == "sent" else "INBOX", role=role)
        logged = account._ingest(batch)
        return logged, batch.fetched

    def chatter(self, record, user=None):
        Message = self.env["mail.message"].with_user(user) if user else self.env["mail.message"]
        return Message.search([("model", "=", record._name), ("res_id", "=", record.id)])


@tagged(IMAP_TAG, TOUR_TAG)
class FrenchSalespersonCase(HttpCase):
    """A salesperson working in French, a real Dovecot, an encryption key."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot = cls.enterClassContext(DovecotServer(users=dict([ALICE])))
        use_encryption_key(cls)
        load_language(cls.env, "fr_FR")
        cls.salesman = new_test_user(
            cls.env,
            login="sam",
            name="Sam Seller",
            email=ALICE[0],
            lang="fr_FR",
            groups="sales_team.group_sale_salesman",
        )


class Killed(BaseException):
    """A worker process dying: nothing in the sync can catch it."""


class Transactions:
    """The sync commits after each batch and rolls back a failed one; inside a
    test, savepoints stand in for the transactions (a "kill" is a rollback to
    the last commit)."""

    def __init__(self, env):
        self.env = env
        self.savepoint = env.cr.savepoint()
        self.commits = 0

    def commit(self, *_args, **_kwargs):
        self.savepoint.close(rollback=False)
        self.savepoint = self.env.cr.savepoint()
        self.commits += 1
        return 3600.0

    def rollback(self, *_args):
        self.savepoint.rollback()
        self.env.invalidate_all()

    @classmethod
    def patch(cls, case):
        """Make ``case``'s sync commits and rollbacks these savepoints."""
        transactions = cls(case.env)
        Account = type(case.env["crm.mail.account"])
        case.startPatcher(patch.object(Account, "_commit", lambda _self, *a: transactions.commit()))
        case.startPatcher(patch.object(Account, "_rollback", lambda _self: transactions.rollback()))
        return transactions
