"""Realistic raw emails for the Odoo tests, built with the standard library."""

import datetime
import itertools
from email.message import EmailMessage
from email.utils import format_datetime

from odoo.addons.crm_mail_sync.mailsync.imap_sync import HeaderRecord, SyncState

_counter = itertools.count(1)


def raw_email(
    sender,
    to,
    subject="Your quote",
    body="Hello,\n\nCould you send the quote?\n\nBest regards",
    cc=None,
    message_id=None,
    in_reply_to=None,
    references=None,
    html=None,
    attachments=(),
    date=None,
):
    """Bytes of an RFC 5322 message; a unique Message-ID unless one is given
    (``message_id=False`` leaves it out)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to if isinstance(to, str) else ", ".join(to)
    if cc:
        message["Cc"] = cc if isinstance(cc, str) else ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime.datetime(2026, 11, 20, 9, 30, tzinfo=datetime.UTC))
    if message_id is None:
        message_id = f"<sample-{next(_counter)}@mail.example>"
    if message_id:
        message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = references or in_reply_to
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    for filename, mimetype, content in attachments:
        maintype, subtype = mimetype.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


class MemoryBatch:
    """A batch as the IMAP sync hands it over (``mailsync.imap_sync.Batch``),
    for messages held in memory: UIDs 1, 2, ... in order; ``fetched`` lists
    the UIDs whose bodies were downloaded. ``role``: the folder's (``"inbox"``
    or ``"sent"``), which decides the direction."""

    def __init__(self, raws, folder="INBOX", role="inbox"):
        self.folder, self.role = folder, role
        self.raws = dict(enumerate(raws, start=1))
        self.records = [
            HeaderRecord(
                folder=self.folder,
                role=self.role,
                uid=uid,
                raw_headers=raw,
                size=len(raw),
            )
            for uid, raw in self.raws.items()
        ]
        self.state = SyncState()
        self.fetched = []

    def fetch_bodies(self, uids):
        self.fetched.extend(uids)
        return {uid: self.raws[uid] for uid in uids}
