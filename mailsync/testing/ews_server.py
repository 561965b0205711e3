"""A local Exchange Web Services endpoint over HTTPS on 127.0.0.1 that
exchangelib, unpatched, talks to: its version probe, SyncFolderItems paging,
GetItem (header properties and MimeContent), throttling and refusals, with
NTLM (pyspnego's acceptor) or Basic authentication.

Every answer follows the shape of Microsoft's documented examples:

- envelope and ``ServerVersionInfo`` header (an Exchange 2016 server):
  https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/serverversioninfo
- ``ConvertId`` (exchangelib's version probe with the id "DUMMY": an error
  response message, whose header still carries the version):
  https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/convertid-operation
- ``SyncFolderItems`` (``SyncState``, ``IncludesLastItemInRange``,
  ``Changes``/``Create``; the error response for ``ErrorInvalidSyncStateData``
  keeps an empty ``SyncState``); like FindItem it returns first-class
  properties only, never recipients, body or MIME:
  https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/syncfolderitems-operation
- ``GetItem`` with ``MimeContent`` (base64, ``CharacterSet``) and the message
  properties:
  https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/getitem-operation-email-message
- ``ErrorServerBusy``: a SOAP fault (HTTP 500) whose ``MessageXml`` gives
  ``BackOffMilliseconds``:
  https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/ews-throttling-in-exchange
- ``ErrorAccessDenied`` and ``ErrorNonExistentMailbox`` response messages
  (ResponseClass "Error"):
  https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/responsecode
- SOAP Autodiscover (``/autodiscover/autodiscover.svc``, what exchangelib 5
  asks: ``GetUserSettings``, whose ``ExternalEwsUrl`` is the EWS endpoint);
  started on port 443 (``start(port=443)``), the only port Autodiscover asks:
  https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/getusersettings-operation-soap

    with EwsServer(users={"CORP\\\\alice": ("pw", "alice@example.com")}) as server:
        server.mail.add("alice@example.com", "inbox", raw_bytes)
        server.ews_url, server.certs.ca_file, server.calls
"""

import base64
import contextlib
import dataclasses
import datetime
import email
import email.policy
import email.utils
import http.server
import json
import os
import ssl
import tempfile
import threading
import time
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from .certs import make_certificates
from .local_server import HttpServerContext

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MNS = "http://schemas.microsoft.com/exchange/services/2006/messages"
TNS = "http://schemas.microsoft.com/exchange/services/2006/types"
ENS = "http://schemas.microsoft.com/exchange/services/2006/errors"
EWS_PATH = "/EWS/Exchange.asmx"
AUTODISCOVER_PATH = "/autodiscover/autodiscover.svc"
ANS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
# Exchange Server 2016 CU23 (what ServerVersionInfo says).
VERSION_INFO = (
    '<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" '
    'Version="V2017_07_11" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns="http://schemas.microsoft.com/exchange/services/2006/types"/>'
)
INVALID_SYNC_STATE = "Synchronization state data is corrupt or otherwise invalid."
ACCESS_DENIED = "Access is denied. Check credentials and try again."
ITEM_NOT_FOUND = "The specified object was not found in the store."
# Properties SyncFolderItems may return (first-class, like FindItem): no
# recipients, no body, no MIME content.
SYNC_PROPERTIES = {
    "item:Subject",
    "item:DateTimeReceived",
    "item:DateTimeSent",
    "item:Size",
    "item:ConversationId",
    "message:From",
    "message:Sender",
    "message:InternetMessageId",
}


@dataclasses.dataclass
class EwsItem:
    """One message of the store: its EWS id and what GetItem returns."""

    item_id: str
    change_key: str
    mime: bytes
    received: datetime.datetime

    @property
    def message(self):
        return email.message_from_bytes(self.mime, policy=email.policy.default)


class EwsMail:
    """The mailboxes of the server: ``{address: {"inbox": [EwsItem], "sentitems": [...]}}``.

    Failure knobs for tests: ``busy`` (a list of ``(operation, back off in
    ms)``: the next request of that operation gets ErrorServerBusy, consumed
    in order), :meth:`forget_sync_states` (every SyncState becomes
    ErrorInvalidSyncStateData). ``mime_requests`` counts the items whose
    MIME content was sent."""

    def __init__(self):
        self.boxes = {}
        self.busy = []
        self.generation = 1
        self.mime_requests = 0
        self.mime_ids = []
        self._counter = 0
        self._lock = threading.Lock()

    def add(self, mailbox, folder, raw, received=None):
        """Store ``raw`` (RFC 5322 bytes) in ``folder`` ("inbox",
        "sentitems") of ``mailbox``; returns its item id."""
        with self._lock:
            self._counter += 1
            number = self._counter
            mailbox = mailbox.lower()
            item_id = base64.b64encode(f"AAMkA{mailbox}|{folder}|{number:08d}".encode()).decode()
            when = received or datetime.datetime.now(datetime.UTC).replace(microsecond=0)
            item = EwsItem(item_id, f"CQAAABYA{number:06d}", raw, when)
            self.boxes.setdefault(mailbox, {}).setdefault(folder, []).append(item)
            return item_id

    def forget_sync_states(self):
        with self._lock:
            self.generation += 1

    def find(self, item_id):
        for folders in self.boxes.values():
            for items in folders.values():
                for item in items:
                    if item.item_id == item_id:
                        return item
        return None

    def owner_of(self, item_id):
        try:
            text = base64.b64decode(item_id).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return text[5:].split("|", 1)[0] if text.startswith("AAMkA") else None

    def take_busy(self, operation):
        with self._lock:
            for index, (name, back_off) in enumerate(self.busy):
                if name == operation:
                    del self.busy[index]
                    return back_off
        return None


class EwsServer(HttpServerContext):
    """A running EWS endpoint (see the module's docstring).

    :param users: ``{user name: (password, primary address)}``: NTLM users
        are ``DOMAIN\\user``; Basic accepts any of them as typed
    :param grants: ``{user name: {other addresses it may open}}`` (delegate access)
    :param auth: ``"ntlm"``, ``"basic"`` or ``"both"`` (what the server offers)
    """

    def __init__(self, users, grants=None, auth="both", hostnames=("localhost",)):
        self.users = {name.lower(): (password, address.lower()) for name, (password, address) in users.items()}
        self.grants = {name.lower(): {a.lower() for a in addresses} for name, addresses in (grants or {}).items()}
        self.auth = auth
        self.hostnames = tuple(hostnames)
        self.mail = EwsMail()
        self.calls = []  # (operation, user) in arrival order
        self.stall = 0.0  # seconds each EWS answer waits before it is sent (a server too slow to answer)
        self.autodiscover_requests = []
        self.port = 0
        self.certs = None
        self._tmp = None
        self._old_user_file = None

    @property
    def ews_url(self):
        return f"https://localhost:{self.port}{EWS_PATH}"

    def operations(self, name=None):
        return [operation for operation, _user in self.calls if name is None or operation == name]

    # -- lifecycle --------------------------------------------------------
    def start(self, port=0):
        self._tmp = tempfile.TemporaryDirectory(prefix="crm-mail-sync-ews-")
        self.certs = make_certificates(self._tmp.name, hostnames=self.hostnames)
        # pyspnego's NTLM acceptor reads its credentials from this file ("DOMAIN:user:password").
        user_file = os.path.join(self._tmp.name, "ntlm-users")
        with open(user_file, "w", encoding="utf-8") as file:
            for name, (password, _address) in self.users.items():
                domain, _sep, user = name.rpartition("\\")
                file.write(f"{domain}:{user}:{password}\n")
        self._old_user_file = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = user_file
        handler = _handler_class(self)
        self._serve_http(("127.0.0.1", port), handler, self.certs, thread_name="test-ews")
        return self

    def stop(self):
        self._stop_http()
        if self._old_user_file is None:
            os.environ.pop("NTLM_USER_FILE", None)
        else:
            os.environ["NTLM_USER_FILE"] = self._old_user_file
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    # -- access -----------------------------------------------------------
    def may_open(self, user, mailbox):
        own = self.users.get(user, (None, None))[1]
        return mailbox == own or mailbox in self.grants.get(user, set())

    # -- operations -------------------------------------------------------
    def answer(self, user, body):
        """``(HTTP status, response XML)`` for a SOAP request body."""
        try:
            root = etree.fromstring(body, parser=_PARSER)  # noqa: S320 - no entities, no network
        except etree.XMLSyntaxError:
            return 400, b"bad request"
        request = root.find(f"{{{SOAP}}}Body")
        request = request[0] if request is not None and len(request) else None
        if request is None:
            return 400, b"bad request"
        operation = etree.QName(request).localname
        self.calls.append((operation, user))
        back_off = self.mail.take_busy(operation)
        if back_off is not None:
            return 500, _server_busy(back_off)
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return 500, _fault("ErrorInvalidRequest", f"The request is invalid: {operation} is not served here.")
        return 200, _envelope(handler(user, request))

    def _op_ConvertId(self, user, request):
        messages = []
        for _alternate in request.iter(f"{{{TNS}}}AlternateId"):
            messages.append(
                _response_message(
                    "ConvertIdResponseMessage",
                    "ErrorInvalidIdMalformed",
                    "Id is malformed.",
                )
            )
        return _wrap("ConvertIdResponse", "".join(messages))

    def _mailbox_of(self, user, folder_elem):
        address = folder_elem.findtext(f"{{{TNS}}}Mailbox/{{{TNS}}}EmailAddress")
        return (address or self.users.get(user, (None, ""))[1]).strip().lower()

    def _op_SyncFolderItems(self, user, request):
        name = "SyncFolderItemsResponseMessage"
        folder_elem = request.find(f"{{{MNS}}}SyncFolderId/{{{TNS}}}DistinguishedFolderId")
        folder = folder_elem.get("Id") if folder_elem is not None else None
        mailbox = self._mailbox_of(user, folder_elem) if folder_elem is not None else ""
        tail = "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"
        refusal = self._refusal(user, mailbox, name, tail)
        if refusal:
            return _wrap("SyncFolderItemsResponse", refusal)
        state_text = request.findtext(f"{{{MNS}}}SyncState") or ""
        position = 0
        if state_text:
            state = _read_state(state_text)
            if not state or state.get("g") != self.mail.generation or state.get("f") != [mailbox, folder]:
                return _wrap(
                    "SyncFolderItemsResponse",
                    _response_message(name, "ErrorInvalidSyncStateData", INVALID_SYNC_STATE, tail),
                )
            position = state["p"]
        limit = int(request.findtext(f"{{{MNS}}}MaxChangesReturned") or 100)
        limit = max(1, min(limit, 512))
        items = self.mail.boxes.get(mailbox, {}).get(folder, [])
        page = items[position : position + limit]
        position += len(page)
        wanted = _wanted_properties(request.find(f"{{{MNS}}}ItemShape")) & SYNC_PROPERTIES
        changes = "".join(f"<t:Create>{_message_xml(item, wanted)}</t:Create>" for item in page)
        last = "true" if position >= len(items) else "false"
        state = base64.b64encode(
            json.dumps({"f": [mailbox, folder], "p": position, "g": self.mail.generation}).encode()
        ).decode()
        body = (
            f'<m:{name} ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
            f"<m:SyncState>{state}</m:SyncState><m:IncludesLastItemInRange>{last}</m:IncludesLastItemInRange>"
            f"<m:Changes>{changes}</m:Changes></m:{name}>"
        )
        return _wrap("SyncFolderItemsResponse", body)

    def _refusal(self, user, mailbox, name, tail=""):
        if mailbox not in self.mail.boxes and mailbox not in {address for _p, address in self.users.values()}:
            return _response_message(
                name, "ErrorNonExistentMailbox", f"No mailbox with such guid or SMTP address: {mailbox}.", tail
            )
        if not self.may_open(user, mailbox):
            return _response_message(name, "ErrorAccessDenied", ACCESS_DENIED, tail)
        return ""

    def _op_GetItem(self, user, request):
        name = "GetItemResponseMessage"
        wanted = _wanted_properties(request.find(f"{{{MNS}}}ItemShape"))
        messages = []
        for id_elem in request.iter(f"{{{TNS}}}ItemId"):
            item_id = id_elem.get("Id") or ""
            mailbox = self.mail.owner_of(item_id)
            item = self.mail.find(item_id)
            if item is None:
                messages.append(_response_message(name, "ErrorItemNotFound", ITEM_NOT_FOUND, "<m:Items/>"))
                continue
            refusal = self._refusal(user, mailbox, name, "<m:Items/>")
            if refusal:
                messages.append(refusal)
                continue
            if "item:MimeContent" in wanted:
                self.mail.mime_requests += 1
                self.mail.mime_ids.append(item_id)
            messages.append(
                f'<m:{name} ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
                f"<m:Items>{_message_xml(item, wanted)}</m:Items></m:{name}>"
            )
        return _wrap("GetItemResponse", "".join(messages))

    # -- SOAP Autodiscover (exchangelib's) ------------------------------------
    def get_user_settings(self, user, body):
        """The SOAP Autodiscover ``GetUserSettings`` answer (bytes) for the
        mailbox in ``body``: its EWS URL (``ExternalEwsUrl``), primary
        address, CAS version and supported schemas; ``InvalidUser`` for an
        address the server does not know."""
        try:
            root = etree.fromstring(body, parser=_PARSER)  # noqa: S320 - no entities, no network
            address = (root.findtext(f".//{{{ANS}}}Mailbox") or "").strip().lower()
        except etree.XMLSyntaxError:
            address = ""
        self.autodiscover_requests.append((user, address))
        known = {a for _p, a in self.users.values()}
        if address in known:
            settings = {
                "AutoDiscoverSMTPAddress": address,
                "ExternalEwsUrl": self.ews_url,
                "InternalEwsUrl": self.ews_url,
                "CasVersion": "15.01.2507.006",
                "EwsSupportedSchemas": "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, "
                "Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2016",
            }
            user_response = (
                "<ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage>"
                '<RedirectTarget i:nil="true" /><UserSettingErrors /><UserSettings>'
                + "".join(
                    f'<UserSetting i:type="StringSetting"><Name>{name}</Name>'
                    f"<Value>{escape(value)}</Value></UserSetting>"
                    for name, value in settings.items()
                )
                + "</UserSettings>"
            )
        else:
            user_response = (
                "<ErrorCode>InvalidUser</ErrorCode><ErrorMessage>Invalid user.</ErrorMessage>"
                '<RedirectTarget i:nil="true" /><UserSettingErrors /><UserSettings />'
            )
        return (
            f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header>'
            '<a:Action s:mustUnderstand="1">http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/'
            "GetUserSettingsResponse</a:Action></s:Header><s:Body>"
            f'<GetUserSettingsResponseMessage xmlns="{ANS}">'
            '<Response xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
            "<ErrorCode>NoError</ErrorCode><ErrorMessage />"
            f"<UserResponses><UserResponse>{user_response}</UserResponse></UserResponses>"
            "</Response></GetUserSettingsResponseMessage></s:Body></s:Envelope>"
        ).encode()


# -- XML ---------------------------------------------------------------------------

_XMLNS = f'xmlns:m="{MNS}" xmlns:t="{TNS}"'
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _envelope(body):
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Header>{VERSION_INFO}</s:Header>'
        f'<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema">{body}</s:Body></s:Envelope>'
    ).encode()


def _wrap(response, messages):
    return f"<m:{response} {_XMLNS}><m:ResponseMessages>{messages}</m:ResponseMessages></m:{response}>"


def _response_message(name, code, text, tail=""):
    return (
        f'<m:{name} ResponseClass="Error"><m:MessageText>{escape(text)}</m:MessageText>'
        f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{tail}</m:{name}>"
    )


def _fault(code, text, message_xml=""):
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="{TNS}">a:{code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(text)}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="{ENS}">{code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{ENS}">{escape(text)}</e:Message>{message_xml}</detail>'
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()


def _server_busy(back_off_ms):
    return _fault(
        "ErrorServerBusy",
        "The server cannot service this request right now. Try again later.",
        f'<t:MessageXml xmlns:t="{TNS}">'
        f'<t:Value Name="BackOffMilliseconds">{int(back_off_ms)}</t:Value></t:MessageXml>',
    )


def _read_state(text):
    try:
        state = json.loads(base64.b64decode(text))
    except ValueError:
        return None
    return state if isinstance(state, dict) and isinstance(state.get("p"), int) else None


def _wanted_properties(shape):
    if shape is None:
        return set()
    return {uri.get("FieldURI") for uri in shape.iter(f"{{{TNS}}}FieldURI")}


def _mailbox_xml(tag, header):
    addresses = email.utils.getaddresses([str(header)]) if header else []
    boxes = "".join(
        f"<t:Mailbox><t:Name>{escape(name or address)}</t:Name><t:EmailAddress>{escape(address)}</t:EmailAddress>"
        "<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>OneOff</t:MailboxType></t:Mailbox>"
        for name, address in addresses
        if address
    )
    return f"<t:{tag}>{boxes}</t:{tag}>" if boxes else ""


def _iso(when):
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message_xml(item, wanted):
    """A ``t:Message`` with the ItemId and the wanted properties, in the
    schema's order (MessageType)."""
    message = item.message
    parts = []
    if "item:MimeContent" in wanted:
        parts.append(f'<t:MimeContent CharacterSet="UTF-8">{base64.b64encode(item.mime).decode()}</t:MimeContent>')
    parts.append(f"<t:ItemId Id={quoteattr(item.item_id)} ChangeKey={quoteattr(item.change_key)}/>")
    if "item:Subject" in wanted and message["Subject"] is not None:
        parts.append(f"<t:Subject>{escape(str(message['Subject']))}</t:Subject>")
    if "item:DateTimeReceived" in wanted:
        parts.append(f"<t:DateTimeReceived>{_iso(item.received)}</t:DateTimeReceived>")
    if "item:Size" in wanted:
        parts.append(f"<t:Size>{len(item.mime)}</t:Size>")
    if "item:InReplyTo" in wanted and message["In-Reply-To"]:
        parts.append(f"<t:InReplyTo>{escape(str(message['In-Reply-To']))}</t:InReplyTo>")
    if "item:DateTimeSent" in wanted:
        sent = email.utils.parsedate_to_datetime(str(message["Date"])) if message["Date"] else item.received
        parts.append(f"<t:DateTimeSent>{_iso(sent)}</t:DateTimeSent>")
    if "item:ConversationId" in wanted:
        topic = str(message["Subject"] or "").removeprefix("Re: ")
        conversation = base64.b64encode(f"AAQkA{topic}".encode()).decode()
        parts.append(f"<t:ConversationId Id={quoteattr(conversation)}/>")
    if "message:Sender" in wanted:
        parts.append(_mailbox_xml("Sender", message["Sender"] or message["From"]))
    if "message:ToRecipients" in wanted:
        parts.append(_mailbox_xml("ToRecipients", message["To"]))
    if "message:CcRecipients" in wanted:
        parts.append(_mailbox_xml("CcRecipients", message["Cc"]))
    if "message:BccRecipients" in wanted:
        parts.append(_mailbox_xml("BccRecipients", message["Bcc"]))
    if "message:From" in wanted:
        parts.append(_mailbox_xml("From", message["From"]))
    if "message:InternetMessageId" in wanted and message["Message-ID"]:
        parts.append(f"<t:InternetMessageId>{escape(str(message['Message-ID']))}</t:InternetMessageId>")
    if "message:References" in wanted and message["References"]:
        parts.append(f"<t:References>{escape(str(message['References']))}</t:References>")
    return f"<t:Message>{''.join(parts)}</t:Message>"


# -- HTTP --------------------------------------------------------------------------


def _handler_class(owner):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # NTLM authenticates a kept-alive connection
        disable_nagle_algorithm = True  # headers and body leave at once (no delayed-ACK stall)

        def log_message(self, *args):
            pass

        def setup(self):
            self.ntlm = None
            self.user = None  # the connection's NTLM-authenticated user
            return super().setup()

        def _send(self, status, body, content_type="text/xml; charset=utf-8", headers=()):
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def _challenge(self):
            headers = []
            if owner.auth in ("ntlm", "both"):
                headers.append(("WWW-Authenticate", "NTLM"))
            if owner.auth in ("basic", "both"):
                headers.append(("WWW-Authenticate", 'Basic realm="localhost"'))
            self._send(401, b"401 - Unauthorized", "text/html", headers)

        def _authenticate(self):
            """The user of this request, or None (a 401 was sent)."""
            header = self.headers.get("Authorization") or ""
            scheme, _sep, token = header.partition(" ")
            scheme = scheme.lower()
            if scheme == "basic" and owner.auth in ("basic", "both"):
                try:
                    name, _sep, password = base64.b64decode(token).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    name, password = "", None
                known = owner.users.get(name.lower())
                if known and known[0] == password:
                    return name.lower()
                self._challenge()
                return None
            if scheme in ("ntlm", "negotiate") and owner.auth in ("ntlm", "both"):
                import spnego  # pyspnego, exchangelib's own NTLM dependency (through requests_ntlm)

                try:
                    if self.ntlm is None:
                        self.ntlm = spnego.server(protocol="ntlm")
                    answer = self.ntlm.step(base64.b64decode(token))
                except Exception:  # noqa: BLE001 - a refused NTLM authentication is a 401
                    self.ntlm = None
                    self._challenge()
                    return None
                if not self.ntlm.complete:
                    self._send(
                        401, b"", "text/html", [("WWW-Authenticate", f"NTLM {base64.b64encode(answer).decode()}")]
                    )
                    return None
                self.user = str(self.ntlm.client_principal).lower()
                self.ntlm = None
                return self.user
            if self.user:
                return self.user
            self._challenge()
            return None

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0].lower()
            if path not in (EWS_PATH.lower(), AUTODISCOVER_PATH):
                self._send(404, b"not found", "text/plain")
                return
            user = self._authenticate()
            if user is None:
                return
            if path == AUTODISCOVER_PATH:
                self._send(200, owner.get_user_settings(user, body))
                return
            status, answer = owner.answer(user, body)
            if owner.stall:
                time.sleep(owner.stall)
            self._send(status, answer)

        def do_GET(self):
            self._send(404, b"not found", "text/plain")

    return Handler
