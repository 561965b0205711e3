"""The mail exchanged with one address, found in a mailbox (IMAP SEARCH), read-only.

Used when a new sender becomes a contact: what the sync skipped because the
address was no one's is read again and logged, without reading the mailbox
again from the start.
"""

from imapclient import exceptions as imap_exc

#: Most messages read per folder (the most recent ones).
MAX_MESSAGES = 200


def fetch_exchanged_with(session, folders, address, since=None, limit=MAX_MESSAGES):
    """Whole messages from, to or copied to ``address`` in ``folders``.

    Searched with ``UID SEARCH OR FROM a OR TO a CC a [SINCE date]`` (RFC 3501
    section 6.4.4) and read with ``BODY.PEEK[]`` after EXAMINE: no flag changes.

    :param session: an open :class:`mailsync.imap.ImapSession`
    :param folders: folder names (str)
    :param address: the matching key (str) of the address
    :param since: ``datetime.date`` or None
    :param limit: most messages read per folder (the highest UIDs)
    :returns: ``{folder: (uidvalidity, {uid: raw bytes})}``; a folder that no
        longer exists is absent
    :raises mailsync.errors.MailConnectionError: the server cannot be used
    """
    criteria = ["OR", "FROM", address, "OR", "TO", address, "CC", address]
    if since:
        criteria += ["SINCE", since]
    charset = None if address.isascii() else "UTF-8"
    found = {}
    with session._errors():
        for folder in folders:
            try:
                info = session.client.select_folder(folder, readonly=True)
            except imap_exc.IMAPClientError:
                continue
            try:
                uids = sorted(session.client.search(criteria, charset=charset))[-limit:]
            except imap_exc.IMAPClientError:
                continue  # a server refusing the search: nothing found there
            response = session.client.fetch(uids, [b"BODY.PEEK[]"]) if uids else {}
            bodies = {uid: data[b"BODY[]"] for uid, data in response.items() if data.get(b"BODY[]") is not None}
            found[folder] = (int(info.get(b"UIDVALIDITY", 0)), bodies)
    return found
