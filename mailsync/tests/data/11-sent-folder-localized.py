"""Case 11 data: localized sent folders on servers that send no special-use
flag (Exchange 2010/2013 IMAP, cPanel/hosted Dovecot created by a localized
Outlook). Names travel in modified UTF-7 (RFC 3501 5.1.3).
One LIST listing per mailbox language: {language: (LIST lines, expected sent folder)}."""

MAILBOXES = {
    "Hungarian": (
        [
            b'(\\HasNoChildren) "/" "INBOX"',
            b'(\\HasNoChildren) "/" "Elk&APw-ld&APY-tt elemek"',
            b'(\\HasNoChildren) "/" "T&APY-r&APY-lt elemek"',
        ],
        "Elküldött elemek",
    ),
    "Polish": (
        [
            b'(\\HasNoChildren) "/" "INBOX"',
            b'(\\HasNoChildren) "/" "Elementy wys&AUI-ane"',
            b'(\\HasNoChildren) "/" "Elementy usuni&ARk-te"',
        ],
        "Elementy wysłane",
    ),
    "Russian": (
        [
            b'(\\HasNoChildren) "/" "INBOX"',
            b'(\\HasNoChildren) "/" "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"',
            b'(\\HasNoChildren) "/" "&BCMENAQwBDsENQQ9BD0ESwQ1-"',
        ],
        "Отправленные",
    ),
    "Swedish": (
        [
            b'(\\HasNoChildren) "/" "INBOX"',
            b'(\\HasNoChildren) "/" "Skickade objekt"',
            b'(\\HasNoChildren) "/" "Borttagna objekt"',
        ],
        "Skickade objekt",
    ),
}
