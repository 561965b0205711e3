"""Sending mail through Microsoft Graph (``POST /users/{sender}/sendMail``).

Exchange Online is retiring basic authentication for SMTP; an app registration
with the application permission ``Mail.Send`` sends as any mailbox of the
tenant with an app-only token (:func:`mailsync.oauth.app_token`). The message
goes as MIME, base64-encoded, ``Content-Type: text/plain``, as Graph's
documentation describes; Graph answers ``202 Accepted`` with no body.

Graph cannot be reached from the test machine: the tests run this module
against :mod:`mailsync.testing.oauth_server`, which answers with the request
and error shapes of Graph's documentation.
"""

import base64
import urllib.parse

import requests

from .errors import ReasonedError

GRAPH_URL = "https://graph.microsoft.com/v1.0"
# Graph refuses larger requests; attachments beyond it need an upload session.
MAX_MIME_BYTES = 4 * 1024 * 1024


class GraphError(ReasonedError):
    code = "graph"
    texts = {
        "unauthorized": (
            "Microsoft Graph refused the access token",
            "Check the app registration (tenant ID, client ID, client secret) and try again.",
        ),
        "forbidden": (
            "Microsoft Graph refused to send from this mailbox",
            "Grant the application permission Mail.Send (with admin consent) to the app registration, "
            "or check that an application access policy allows this mailbox.",
        ),
        "mailbox_not_found": (
            "Microsoft Graph does not know this sender mailbox",
            "Check the sender address: it must be a mailbox of your Microsoft 365 tenant.",
        ),
        "throttled": (
            "Microsoft Graph asked to slow down",
            "The message will be retried later.",
        ),
        "too_large": (
            "the message is larger than Microsoft Graph accepts in one request (4 MB)",
            "Send smaller attachments, or a link to them.",
        ),
        "unreachable": ("Microsoft Graph cannot be reached", "Check the network, then try again."),
        None: ("Microsoft Graph could not send the message", "Try again later."),
    }

    speaker = "Graph"

    def __init__(self, reason=None, detail="", status=None, retry_after=None):
        self.status = status
        self.retry_after = retry_after
        super().__init__(reason, detail)


_REASONS = {401: "unauthorized", 403: "forbidden", 404: "mailbox_not_found", 413: "too_large", 429: "throttled"}


def send_mime(access_token, sender, mime, base_url=GRAPH_URL, cafile=None, timeout=30):
    """Send an RFC 5322 message (bytes) as ``sender`` (their address or id)."""
    if len(mime) > MAX_MIME_BYTES:
        raise GraphError("too_large", f"{len(mime)} bytes")
    url = f"{base_url.rstrip('/')}/users/{urllib.parse.quote(sender)}/sendMail"
    try:
        response = requests.post(
            url,
            data=base64.b64encode(mime),
            headers={"Authorization": f"Bearer {access_token}", "Content-Type": "text/plain"},
            verify=cafile or True,
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise GraphError("unreachable", type(exc).__name__) from None
    if response.status_code == 202:
        return
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    detail = ": ".join(part for part in (error.get("code"), error.get("message")) if part)
    retry_after = response.headers.get("Retry-After")
    raise GraphError(
        _REASONS.get(response.status_code),
        detail or f"HTTP {response.status_code}",
        status=response.status_code,
        retry_after=int(retry_after) if retry_after and retry_after.isdigit() else None,
    )
