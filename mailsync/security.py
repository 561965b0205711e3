"""Transport security shared by IMAP and SMTP: encryption modes, TLS contexts,
and the translation of socket/TLS failures into typed errors."""

import contextlib
import enum
import errno
import functools
import socket
import ssl

from .errors import ConnectionTimeout, HostUnreachable, TlsError


class Security(str, enum.Enum):
    """How the connection is encrypted (values are stored by the Odoo layer)."""

    SSL = "ssl"  # TLS from the first byte (IMAPS 993, SMTPS 465)
    STARTTLS = "starttls"  # plain greeting, then upgraded (IMAP 143, submission 587)
    NONE = "none"  # no encryption: local test servers and bridges only

    def default_port(self, protocol):
        ports = {
            "IMAP": {self.SSL: 993, self.STARTTLS: 143, self.NONE: 143},
            "SMTP": {self.SSL: 465, self.STARTTLS: 587, self.NONE: 25},
        }
        return ports[protocol][self]


@functools.lru_cache(maxsize=32)
def tls_context(cafile=None):
    """A verifying client TLS context (system CAs, or ``cafile`` in tests).

    Shared, never modified after creation: loading the system CAs takes
    longer than a whole idle poll of a mailbox, so it is done once."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


_UNREACHABLE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


@contextlib.contextmanager
def translate_socket_errors(protocol, host, port, timeout_reason=None):
    """Turn OS, DNS and TLS failures raised inside the block into typed errors.

    ``timeout_reason`` refines a timeout (e.g. ``"no_greeting"`` when a plain
    client waits for a greeting from a port that expects TLS first).
    """
    try:
        yield
    except ssl.SSLCertVerificationError as exc:
        raise TlsError(protocol, host, port, "certificate", exc.verify_message) from None
    except ssl.SSLError as exc:
        raise TlsError(protocol, host, port, None, exc.reason or exc.strerror) from None
    except socket.gaierror as exc:
        raise HostUnreachable(protocol, host, port, "dns", exc.strerror) from None
    except UnicodeError as exc:
        # An empty or over-long label ("imap..example.com") fails to encode
        # before any lookup: for the user it is the same wrong server name.
        raise HostUnreachable(protocol, host, port, "dns", str(exc)) from None
    except ConnectionRefusedError as exc:
        raise HostUnreachable(protocol, host, port, "refused", exc.strerror) from None
    except TimeoutError as exc:
        # A timeout while opening the TCP connection is a firewall or a dead
        # host, whatever the caller expected to go wrong after it.
        reason = None if _raised_in(exc, "create_connection") else timeout_reason
        raise ConnectionTimeout(protocol, host, port, reason) from None
    except ConnectionResetError as exc:
        # A TLS server resets a client that speaks plain text to it, and the
        # other way round: the usual cause is the wrong encryption mode.
        raise TlsError(protocol, host, port, None, exc.strerror) from None
    except OSError as exc:
        if exc.errno in _UNREACHABLE_ERRNOS:
            raise HostUnreachable(protocol, host, port, None, exc.strerror) from None
        raise


def _raised_in(exc, function_name):
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == function_name:
            return True
        tb = tb.tb_next
    return False
