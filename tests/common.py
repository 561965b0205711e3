import os
from unittest.mock import patch

from odoo.tests import TransactionCase, new_test_user

from odoo.addons.crm_mail_sync.mailsync import secrets
from odoo.addons.crm_mail_sync.mailsync.testing import ALICE, BOB
from odoo.addons.crm_mail_sync.mailsync.testing.dovecot import DovecotServer
from odoo.addons.crm_mail_sync.models.crm_mail_secret_mixin import KEY_ENV


class MailSyncCase(TransactionCase):
    """A real private Dovecot on 127.0.0.1 for the class, an encryption key in
    the environment (as an administrator would configure it), and two
    salespeople."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot = cls.enterClassContext(DovecotServer(users=dict([ALICE, BOB])))
        cls.encryption_key = secrets.generate_key()
        cls.startClassPatcher(patch.dict(os.environ, {KEY_ENV: cls.encryption_key}))
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
