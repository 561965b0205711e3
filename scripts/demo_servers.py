"""The demo's mail servers, for `make run`: a private Dovecot holding a demo
mailbox with a handful of realistic emails (received and sent), and an SMTP
catcher that prints what Odoo sends. Runs until Ctrl-C (or SIGTERM).

    python scripts/demo_servers.py [--imap-port 1143] [--imaps-port 1993] [--smtp-port 1025]
"""

import argparse
import datetime
import os
import signal
import socket
import sys
import threading
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mailsync.testing.dovecot import DovecotServer
from mailsync.testing.smtpd import SmtpServer

DEMO_LOGIN = "sales@demo.example.com"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - a throwaway local demo account
OWNER = f"Sam Seller <{DEMO_LOGIN}>"

# (folder, from, to, subject, body, days ago)
SAMPLES = [
    (
        "INBOX",
        "Maria Garcia <maria.garcia@acme-corp.example>",
        OWNER,
        "Request for a quote: 40 office chairs",
        "Hello Sam,\n\nCould you send us a quote for 40 ergonomic office chairs, delivered in Lyon?"
        "\n\nBest regards,\nMaria",
        6,
    ),
    (
        "Sent",
        OWNER,
        "Maria Garcia <maria.garcia@acme-corp.example>",
        "Re: Request for a quote: 40 office chairs",
        "Hi Maria,\n\nThank you for your request. Our quote is attached; delivery takes two weeks.\n\nSam",
        5,
    ),
    (
        "INBOX",
        "Jean Dupont <jean.dupont@bistro-lyon.example>",
        OWNER,
        "Rendez-vous la semaine prochaine",
        "Bonjour Sam,\n\nPouvons-nous nous voir mardi pour parler de l'aménagement de la salle ?\n\nJean",
        3,
    ),
    (
        "INBOX",
        "Lucía Fernández <lucia@hotel-sol.example>",
        OWNER,
        "Pedido de muestras",
        "Hola Sam,\n\n¿Podrías enviarnos muestras de las telas disponibles?\n\nGracias,\nLucía",
        2,
    ),
    (
        "Sent",
        OWNER,
        "Lucía Fernández <lucia@hotel-sol.example>",
        "Re: Pedido de muestras",
        "Hola Lucía,\n\nLas muestras salen mañana por mensajería.\n\nSam",
        1,
    ),
    (
        "INBOX",
        "Newsletter <noreply@news.example>",
        OWNER,
        "This week's offers",
        "Automated newsletter: not a customer conversation.",
        1,
    ),
]


def seed(server):
    now = datetime.datetime.now(datetime.UTC)
    for folder, sender, to, subject, body, days in SAMPLES:
        msg = EmailMessage()
        when = now - datetime.timedelta(days=days)
        msg["From"], msg["To"], msg["Subject"] = sender, to, subject
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = make_msgid(domain="demo.example.com")
        msg.set_content(body)
        flags = ("\\Seen",) if folder == "Sent" else ()
        server.append(DEMO_LOGIN, folder, msg.as_bytes(), flags=flags, msg_time=when)


def _port_is_free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imap-port", type=int, default=1143)
    parser.add_argument("--imaps-port", type=int, default=1993)
    parser.add_argument("--smtp-port", type=int, default=1025)
    args = parser.parse_args()

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    for name, port in (("IMAP", args.imap_port), ("IMAPS", args.imaps_port), ("SMTP", args.smtp_port)):
        if not _port_is_free(port):
            sys.exit(
                f"The demo's {name} port {port} is already in use (another `make run`?). Stop it, or "
                "choose other ports with DEMO_IMAP_PORT, DEMO_IMAPS_PORT and DEMO_SMTP_PORT."
            )
    imap = DovecotServer(users={DEMO_LOGIN: DEMO_PASSWORD}, port=args.imap_port, ssl_port=args.imaps_port)
    smtp = SmtpServer("none", port=args.smtp_port)
    with imap, smtp:
        seed(imap)
        print(
            f"Demo mailbox ready: server 127.0.0.1, port {imap.port}, encryption None\n"
            f"  login {DEMO_LOGIN}  password {DEMO_PASSWORD}  ({len(SAMPLES)} sample emails)\n"
            f"  (STARTTLS on {imap.port} and SSL/TLS on {imap.ssl_port} use a self-signed certificate,\n"
            "   which Odoo rightly refuses: it says so when you test the connection)\n"
            f"SMTP catcher: 127.0.0.1:{smtp.port}, encryption None, no authentication",
            flush=True,
        )
        shown = 0
        while not stop.wait(0.5):
            for received in smtp.messages[shown:]:
                message = received["message"]
                print(f"SMTP catcher received: {message['Subject']!r} to {', '.join(received['rcpt_tos'])}", flush=True)
            shown = len(smtp.messages)
    print("Demo mail servers stopped.", flush=True)


if __name__ == "__main__":
    main()
