"""Mail provider presets: the servers, encryption and sign-in methods of a
provider, and how to recognise it from an email address.

The engine does not know where presets are stored: the caller gives them as
plain data, :class:`Preset` objects built with :meth:`Preset.from_mapping`
from a dict of field values per provider.
"""

import dataclasses
import fnmatch

from .security import Security

LOGIN_FORMATS = ("email", "local_part")

_BOOLEAN_FIELDS = ("auth_password", "app_password_with_2fa", "auth_oauth_microsoft", "auth_oauth_google")
_INTEGER_FIELDS = ("sequence", "imap_port", "smtp_port")
_LIST_FIELDS = ("domains", "mx_patterns")


@dataclasses.dataclass(frozen=True)
class Preset:
    """One provider preset."""

    code: str
    name: str
    sequence: int = 10
    imap_host: str = ""
    imap_port: int = 0
    imap_security: Security = Security.SSL
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_security: Security = Security.STARTTLS
    auth_password: bool = True
    app_password_with_2fa: bool = False
    auth_oauth_microsoft: bool = False
    auth_oauth_google: bool = False
    domains: tuple = ()
    mx_patterns: tuple = ()
    login_format: str = "email"
    app_password_url: str = ""
    app_password_help: str = ""
    source_url: str = ""
    note: str = ""

    def __post_init__(self):
        object.__setattr__(self, "imap_security", Security(self.imap_security or Security.SSL))
        object.__setattr__(self, "smtp_security", Security(self.smtp_security or Security.STARTTLS))
        for name in _LIST_FIELDS:
            object.__setattr__(self, name, _words(getattr(self, name)))
        object.__setattr__(self, "domains", tuple(domain.lower().rstrip(".") for domain in self.domains))
        object.__setattr__(self, "mx_patterns", tuple(pattern.lower().rstrip(".") for pattern in self.mx_patterns))
        if self.login_format not in LOGIN_FORMATS:
            raise ValueError(f"preset {self.code!r}: login_format must be one of {LOGIN_FORMATS}")

    @classmethod
    def from_mapping(cls, values):
        """A preset from a dict of field values (names as in :data:`FIELDS`).

        Unknown keys (``id``, ``active``, ...) are ignored; ``False`` or
        ``None`` for an empty text becomes ``""``; ``domains`` and
        ``mx_patterns`` may be space-separated strings or sequences.
        """
        fields = {field.name: field for field in dataclasses.fields(cls)}
        kwargs = {}
        for name, value in values.items():
            if name not in fields:
                continue
            if name in _BOOLEAN_FIELDS:
                kwargs[name] = bool(value)
            elif name in _INTEGER_FIELDS:
                kwargs[name] = int(value or 0)
            elif name in _LIST_FIELDS:
                kwargs[name] = _words(value)
            elif name in ("imap_security", "smtp_security"):
                if value:
                    kwargs[name] = Security(value)
            elif name == "login_format":
                kwargs[name] = value or "email"
            else:
                kwargs[name] = "" if value is False or value is None else str(value)
        return cls(**kwargs)

    @property
    def has_servers(self):
        return bool(self.imap_host and self.smtp_host)

    def serves_domain(self, domain):
        return domain.lower().rstrip(".") in self.domains

    def matches_mx(self, host):
        """The most specific of this preset's patterns matching ``host``, or None."""
        host = host.lower().rstrip(".")
        matching = [pattern for pattern in self.mx_patterns if fnmatch.fnmatchcase(host, pattern)]
        return max(matching, key=pattern_specificity) if matching else None

    def login_for(self, email):
        """The user name this provider expects for ``email``."""
        return email.rsplit("@", 1)[0] if self.login_format == "local_part" else email


#: The field names of a preset (the keys :meth:`Preset.from_mapping` reads).
FIELDS = tuple(field.name for field in dataclasses.fields(Preset))


def _words(value):
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    return tuple(str(item) for item in value)


def pattern_specificity(pattern):
    """How much of a host name a pattern pins down: literal characters count."""
    return len(pattern.replace("*", "").replace("?", ""))
