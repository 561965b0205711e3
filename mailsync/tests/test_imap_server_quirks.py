"""Servers as they are: the header block however the FETCH key is spelled, and the
sent folder by special-use flag or by its name in the user's language."""

import importlib.util
import pathlib
import unicodedata

import pytest
from imapclient.response_parser import parse_fetch_response

from mailsync.imap import Folder, ImapSettings, connect
from mailsync.imap_sync import (
    HEADER_FIELDS,
    INBOX,
    SENT,
    SENT_NAMES_BY_LANGUAGE,
    MailboxSync,
    SyncState,
    find_sync_folders,
    header_block,
    sent_folder_candidates,
)
from mailsync.message import parse_headers
from mailsync.testing.dovecot import DovecotServer
from mailsync.testing.scripted_imap import ScriptedImapServer, select_lines, untagged

DATA = pathlib.Path(__file__).parent / "data"


def load(name):
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), DATA / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COURIER = load("09-courier-quoted-header-fields")
LOCALIZED = load("11-sent-folder-localized")


def scripted_settings(server):
    return ImapSettings(server.host, server.port, "none", "sam@example.com", "pw", timeout=5)


# -- the header block --------------------------------------------------------


def test_a_server_quoting_the_header_field_names_still_gives_the_header_block():
    """Case 09: Courier-IMAP answers BODY[HEADER.FIELDS ("FROM" "TO" ...)]."""
    script = {
        "LIST": untagged("LIST", COURIER.LIST_LINES),
        "EXAMINE": select_lines(COURIER.SELECT_INFO),
        "UID SEARCH": [b"SEARCH " + b" ".join(b"%d" % uid for uid in COURIER.SEARCH_UIDS)],
        "UID FETCH": untagged("FETCH", COURIER.fetch_lines(HEADER_FIELDS)),
    }
    with ScriptedImapServer(script) as server, connect(scripted_settings(server)) as session:
        batches = list(MailboxSync(session).batches())
    inbox = [record for batch in batches if batch.role == INBOX for record in batch.records]
    assert [record.uid for record in inbox] == [7]
    assert inbox[0].raw_headers == COURIER.HEADER_BLOCK
    assert inbox[0].size == 1234
    assert parse_headers(inbox[0].raw_headers).sender[0][1] == COURIER.EXPECTED_SENDER
    # INBOX.Sent, unflagged, is the sent folder of that Courier mailbox.
    assert [batch.folder for batch in batches if batch.role == SENT] == ["INBOX.Sent"]


@pytest.mark.parametrize(
    "fields",
    [
        HEADER_FIELDS,  # as asked
        b" ".join(b'"' + field + b'"' for field in HEADER_FIELDS.split()),  # quoted (Courier)
        HEADER_FIELDS.lower(),  # another case
        b" ".join(reversed(HEADER_FIELDS.split())),  # another order
        b'"From" To "cc" bcc DATE "Message-ID" in-reply-to References "SUBJECT"',  # a mix
    ],
)
def test_the_header_block_is_found_however_the_key_is_spelled(fields):
    block = b"From: a@example.org\r\nSubject: Hi\r\n\r\n"
    lines = [(b"1 (UID 3 RFC822.SIZE 99 BODY[HEADER.FIELDS (" + fields + b")] {%d}" % len(block), block), b")"]
    data = parse_fetch_response(lines, True, True)[3]
    assert header_block(data) == block


def test_no_header_item_gives_an_empty_block():
    assert header_block({b"RFC822.SIZE": 10, b"BODY[]": b"x"}) == b""
    assert header_block({b"BODY[HEADER.FIELDS (FROM)]": None}) == b""


# -- the sent folder: scripted LIST lines (case 11) ------------------------------


@pytest.mark.parametrize("language", sorted(LOCALIZED.MAILBOXES))
def test_localized_sent_folder_names_decode_and_are_found(language):
    """Case 11: modified UTF-7 names without special-use flags, through imapclient unpatched."""
    lines, expected = LOCALIZED.MAILBOXES[language]
    with ScriptedImapServer({"LIST": untagged("LIST", lines)}) as server, connect(scripted_settings(server)) as session:
        listed = session.folders()
        sync = MailboxSync(session)
        synced = sync.folders()
        found = sync.sync_folders()
    assert expected in [folder.name for folder in listed]
    assert synced == listed
    assert all(folder.special_use in (None, "\\Inbox") for folder in listed)
    assert found[SENT].name == expected
    assert found[INBOX].name == "INBOX"
    assert [folder.name for folder in sent_folder_candidates(listed)] == [expected]


# -- the sent folder: names and places -------------------------------------------


def folder(name, *flags, delimiter="/"):
    return Folder(name, delimiter, frozenset(flags))


def sent_of(*folders, sent_folder=None):
    found = find_sync_folders([folder("INBOX"), *folders], sent_folder=sent_folder)
    return found[SENT].name if SENT in found else None


EU_LANGUAGES = {
    "Bulgarian",
    "Croatian",
    "Czech",
    "Danish",
    "Dutch",
    "English",
    "Estonian",
    "Finnish",
    "French",
    "German",
    "Greek",
    "Hungarian",
    "Irish",
    "Italian",
    "Latvian",
    "Lithuanian",
    "Maltese",
    "Polish",
    "Portuguese",
    "Romanian",
    "Slovak",
    "Slovenian",
    "Spanish",
    "Swedish",
}


def test_every_eu_language_and_more_has_names():
    assert EU_LANGUAGES | {"Russian", "Turkish", "Chinese", "Japanese", "Norwegian", "Ukrainian"} <= set(
        SENT_NAMES_BY_LANGUAGE
    )
    assert all(SENT_NAMES_BY_LANGUAGE.values())


@pytest.mark.parametrize(
    "name",
    [
        # Outlook / Exchange, localized
        "Sent Items",
        "Elküldött elemek",
        "Elementy wysłane",
        "Отправленные",
        "Skickade objekt",
        "Odeslaná pošta",
        "Lähetetyt",
        "Sendt post",
        "Απεσταλμένα",
        "Gönderilmiş Öğeler",
        "已发送邮件",
        "送信済みアイテム",
        "Gesendete Elemente",
        "Éléments envoyés",
        "Elementos enviados",
        "Posta inviata",
        "Verzonden items",
        "Itens enviados",
        "Sendte elementer",
        "Надіслані",
        "寄件備份",
        # Gmail, localized
        "[Gmail]/Sent Mail",
        "[Gmail]/Gesendet",
        "[Gmail]/Messages envoyés",
        "[Google Mail]/Wysłane",
        "[Gmail]/Отправленные",
        "[Gmail]/送信済みメール",
        "[Gmail]/已发送邮件",
        # Thunderbird, Dovecot/cPanel, Apple Mail
        "Sent",
        "INBOX/Sent",
        "Sent Messages",
        "Gönderilenler",
        "已发送",
        "送信済み",
    ],
)
def test_the_sent_folder_is_found_by_its_name_in_the_users_language(name):
    assert sent_of(folder("Drafts"), folder(name), folder("Trash")) == name


def test_names_compare_case_insensitively_and_unicode_normalised():
    for name in ("SKICKADE OBJEKT", "elküldött ELEMEK", "GÖNDERİLENLER", "ΑΠΕΣΤΑΛΜΈΝΑ"):
        assert sent_of(folder(name)) == name
    decomposed = unicodedata.normalize("NFD", "Elküldött elemek")
    assert decomposed != "Elküldött elemek"
    assert sent_of(folder(decomposed)) == decomposed


def test_every_listed_name_is_found_at_the_top_and_under_inbox():
    for names in SENT_NAMES_BY_LANGUAGE.values():
        for name in names:
            assert sent_of(folder(name)) == name
            assert sent_of(folder(f"INBOX.{name}", delimiter=".")) == f"INBOX.{name}"


def test_a_user_folder_deeper_down_is_never_the_sent_folder():
    assert sent_of(folder("Customers/Acme/Sent"), folder("Sent Items")) == "Sent Items"
    assert sent_of(folder("Customers/Acme/Sent"), folder("Projects/Отправленные")) is None
    assert sent_of(folder("INBOX.Customers.Sent", delimiter=".")) is None


def test_the_special_use_flag_wins_over_names():
    assert sent_of(folder("Sent"), folder("Outgoing", "\\Sent")) == "Outgoing"
    assert sent_of(folder("Mine", "\\Sent"), folder("Sent Items")) == "Mine"
    # Several flagged: the one with a sent name settles it, else the first listed.
    assert sent_of(folder("Old", "\\Sent"), folder("Sent Messages", "\\Sent")) == "Sent Messages"
    assert sent_of(folder("A", "\\Sent"), folder("B", "\\Sent")) == "A"
    assert SENT not in find_sync_folders([folder("INBOX"), folder("Sent", "\\Noselect")])


def test_several_names_at_the_same_level_are_ambiguous_and_listed_for_the_user():
    folders = [folder("INBOX"), folder("Sent"), folder("Sent Items"), folder("INBOX/Sent"), folder("Work/Sent")]
    assert SENT not in find_sync_folders(folders)
    assert [one.name for one in sent_folder_candidates(folders)] == ["Sent", "Sent Items", "INBOX/Sent"]
    # The top level wins over INBOX's children.
    assert sent_of(folder("INBOX/Sent"), folder("Sent Items")) == "Sent Items"
    assert sent_of(folder("INBOX/Sent"), folder("INBOX/Gesendet")) is None
    assert [one.name for one in sent_folder_candidates([folder("INBOX"), folder("Archive")])] == []


def test_the_users_choice_wins_when_it_exists():
    assert sent_of(folder("Sent", "\\Sent"), folder("Outgoing mail"), sent_folder="Outgoing mail") == "Outgoing mail"
    assert sent_of(folder("Sent Items"), folder("Sent"), sent_folder="Sent") == "Sent"
    # Gone since the user chose it: found again as if nothing had been chosen.
    assert sent_of(folder("Sent Items"), sent_folder="Old sent") == "Sent Items"
    assert sent_of(folder("Sent Items"), sent_folder="INBOX") == "Sent Items"
    candidates = [folder("INBOX"), folder("Gesendet", "\\Sent"), folder("Sent Items"), folder("Archive")]
    assert [one.name for one in sent_folder_candidates(candidates)] == ["Gesendet", "Sent Items"]


# -- the sent folder: a real Dovecot with localized folders, no special-use flag ---------

LOCALIZED_FOLDERS = {
    "hu@example.com": ("Elküldött elemek", ["Törölt elemek", "Piszkozatok"]),
    "pl@example.com": ("Elementy wysłane", ["Elementy usunięte"]),
    "ru@example.com": ("Отправленные", ["Удаленные", "Customers/Acme/Sent"]),
    "sv@example.com": ("Skickade objekt", ["Borttagna objekt"]),
    "tr@example.com": ("Gönderilmiş Öğeler", ["Silinmiş Öğeler"]),
    "zh@example.com": ("已发送", ["草稿箱"]),
    "ja@example.com": ("送信済みアイテム", ["下書き"]),
    "el@example.com": ("Απεσταλμένα", ["Πρόχειρα"]),
    "en@example.com": ("Sent Items", ["Customers/Acme/Sent", "Customers"]),
}


def test_localized_sent_folders_on_a_real_dovecot_without_special_use():
    mail = b"From: sam@example.com\r\nTo: bea@customer.example\r\nSubject: Offer\r\nMessage-ID: <o1@x>\r\n\r\nHi\r\n"
    users = {login: "pw" for login in LOCALIZED_FOLDERS}
    with DovecotServer(users=users, folders={}) as server:
        for login, (sent, others) in LOCALIZED_FOLDERS.items():
            client = server.client(login)
            for name in others:
                if not client.folder_exists(name):
                    client.create_folder(name)
            client.logout()
            server.append(login, sent, mail)
            server.append(login, "Customers/Acme/Sent", mail)  # a user folder: never synced
        for login, (sent, _others) in LOCALIZED_FOLDERS.items():
            with connect(ImapSettings(server.host, server.port, "none", login, "pw")) as session:
                listed = session.folders()
                batches = list(MailboxSync(session).batches())
            assert {one.special_use for one in listed} == {"\\Inbox", None}, "Dovecot must not flag them"
            assert [(batch.role, batch.folder) for batch in batches if batch.records] == [(SENT, sent)], login


# -- no sent folder found: the idle poll stays idle ---------------------------------


def ambiguous_mailbox():
    """INBOX and two unflagged sent-like folders: the user must pick one."""
    return {
        "LIST": [
            b'LIST (\\HasNoChildren) "/" "INBOX"',
            b'LIST (\\HasNoChildren) "/" "Sent"',
            b'LIST (\\HasNoChildren) "/" "Sent Items"',
        ],
        "EXAMINE": select_lines({b"UIDVALIDITY": 1, b"UIDNEXT": 1, b"EXISTS": 0}),
        "UID SEARCH": [b"SEARCH"],
        "STATUS": [b'STATUS "INBOX" (UIDNEXT 1 UIDVALIDITY 1)'],
    }


def test_without_a_sent_folder_the_idle_poll_does_not_list_again_each_time():
    """Several sent candidates and no choice yet: the first sync lists the
    folders and syncs the inbox; the next polls cost one STATUS until an hour
    has passed or the user picks a folder (each then lists again)."""
    with ScriptedImapServer(ambiguous_mailbox()) as server, connect(scripted_settings(server)) as session:
        batches = list(MailboxSync(session).batches())
        state = SyncState.from_json(batches[-1].state.to_json())  # as committed
        assert {folder.role for folder in state.folders.values()} == {INBOX}
        server.commands.clear()
        assert MailboxSync(session, state).changed() is False
        assert [verb for verb, _arguments in server.commands] == ["STATUS"]
        assert MailboxSync(session, state, sent_folder="Sent Items").changed() is True, "the user chose"
        state.sent_search_at -= 3601
        assert MailboxSync(session, state).changed() is True, "an hour later: list again"


def test_a_state_of_the_earlier_shape_still_reads():
    earlier = '{"INBOX": {"name": "INBOX", "role": "inbox", "uidvalidity": 1, "last_uid": 4, "uidnext": 5}}'
    state = SyncState.from_json(earlier)
    assert state.folders["INBOX"].last_uid == 4
    assert (state.sent_search_at, state.sent_search_for) == (0.0, None)
    assert SyncState.from_json(state.to_json()) == state
