"""Benchmarks of the mailbox sync and the matching (not part of the test suite).

    make bench                       # 10,000 messages, loopback and 30 ms RTT
    python bench/run.py --messages 2000 --contacts 100000

One command seeds a real private Dovecot with a realistic mailbox (plain,
HTML and multipart messages, 10 % with a 50 KB attachment, senders of whom
some are among the CRM contacts), prepares an Odoo 19 database with the addon,
and measures, in the same run, on plain loopback and then through a TCP proxy
that adds 30 ms of round trip between Odoo and Dovecot:

  a. stock Odoo fetchmail ingesting the mailbox (its own mailbox copy);
  b. our initial sync of the mailbox into Odoo (the cron);
  c. the ceiling: batched IMAP FETCH of every message + MIME parse, no Odoo;
  c'. the fair ceiling: batched header FETCH of every message, BODY.PEEK of
     the same subset (b) downloads (the messages of CRM contacts), parse;
  d. an idle incremental poll of 100 unchanged mailboxes (ms per mailbox);
  m. matching 10,000 messages against N contacts with secondary addresses;

and the scale sections of bench/scale.py (issue 14): the cron's idle poll of
1,000 mailboxes (loopback and 30 ms), the initial sync of 200 mailboxes x 50
messages by 1, 2 and 4 cron workers at once with the exactly-once proof, and
logging alone (10,000 parsed messages, profiled). ``--only`` picks sections;
the default mailbox size is 10,000 messages (``--messages`` for quick runs).

Each phase runs in its own process, so its peak RSS is its own. Figures are
printed as a Markdown report (bench/RESULTS.md keeps the latest), with the
ratios b/a and b/c measured in the same run.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

HERE = os.path.dirname(os.path.abspath(__file__))
ADDON = os.path.dirname(HERE)
sys.path.insert(0, ADDON)  # the engine (mailsync) is importable without Odoo

import scale  # noqa: E402
from latency_proxy import LatencyProxy  # noqa: E402

from mailsync.testing.dovecot import DovecotServer  # noqa: E402

FETCHMAIL_USER, SYNC_USER, ENGINE_USER = "fetchmail@bench.example", "sync@bench.example", "engine@bench.example"
MEMORY_USER = "memory@bench.example"
IDLE_USERS = [f"idle{n}@bench.example" for n in range(100)]
PASSWORD = "bench-password"
CUSTOMER_DOMAINS = ["acme.example", "globex.example", "initech.example", "umbrella.example", "hooli.example"]


# -- the mailbox ---------------------------------------------------------
def contact_email(n):
    return f"contact{n}@{CUSTOMER_DOMAINS[n % len(CUSTOMER_DOMAINS)]}"


def build_messages(count, contacts, owner, seed=42, from_contacts=0.33):
    """Deterministic realistic messages: a third (``from_contacts``) from CRM contacts."""
    rng = random.Random(seed)
    attachment = bytes(rng.getrandbits(8) for _ in range(50 * 1024))
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=20)
    messages = []
    for n in range(count):
        if rng.random() < from_contacts:
            sender = contact_email(rng.randrange(contacts))
        else:
            sender = f"person{rng.randrange(100000)}@example-{rng.randrange(500)}.net"
        message = EmailMessage()
        message["From"] = sender
        message["To"] = owner
        message["Subject"] = f"Re: Quote {n} for {rng.choice(['chairs', 'desks', 'lamps', 'servers'])}"
        message["Date"] = format_datetime(start + datetime.timedelta(seconds=n * 60))
        message["Message-ID"] = make_msgid(f"bench{n}", "bench.example")
        text = f"Hello,\n\nHere is message {n}.\n" + "Lorem ipsum dolor sit amet. " * rng.randrange(5, 60)
        kind = rng.random()
        if kind < 0.3:
            message.set_content(text)
        elif kind < 0.5:
            message.set_content(f"<html><body><p>{text}</p></body></html>", subtype="html")
        else:
            message.set_content(text)
            message.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html")
        if rng.random() < 0.10:
            message.add_attachment(attachment, maintype="application", subtype="pdf", filename=f"quote{n}.pdf")
        messages.append(message.as_bytes())
    return messages


def heavy_messages(owner, big_mb=100, attachments=1000):
    """The messages that test memory: one of ``big_mb`` MB and one with
    ``attachments`` attachments of 20 KB, both from a CRM contact."""
    rng = random.Random(7)
    result = []
    big = EmailMessage()
    big["From"], big["To"], big["Subject"] = contact_email(1), owner, "The whole catalogue"
    big["Message-ID"] = make_msgid("big", "bench.example")
    big["Date"] = format_datetime(datetime.datetime.now(datetime.UTC))
    big.set_content("The catalogue is attached.")
    big.add_attachment(rng.randbytes(big_mb * 1024 * 1024), maintype="application", subtype="pdf", filename="c.pdf")
    result.append(big.as_bytes())
    many = EmailMessage()
    many["From"], many["To"], many["Subject"] = contact_email(2), owner, "Every invoice of the year"
    many["Message-ID"] = make_msgid("many", "bench.example")
    many["Date"] = format_datetime(datetime.datetime.now(datetime.UTC))
    many.set_content("All of them.")
    for n in range(attachments):
        many.add_attachment(rng.randbytes(20 * 1024), maintype="application", subtype="pdf", filename=f"i{n}.pdf")
    result.append(many.as_bytes())
    return result


def seed(server, login, messages, folder="INBOX"):
    client = server.client(login)
    try:
        for start in range(0, len(messages), 200):
            client.multiappend(folder, messages[start : start + 200])
    finally:
        client.logout()


# -- Odoo ------------------------------------------------------------------
def write_section(path, section, begin, end):
    """Replaces the part of ``path`` (bench/RESULTS.md) between the markers
    ``begin`` and ``end`` (HTML comments, included in ``section``) with
    ``section``, keeping the rest of the file; appends it when the markers
    are not there yet (creates the file if need be)."""
    text = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as file:
            text = file.read()
    if begin in text and end in text:
        head, _sep, rest = text.partition(begin)
        _old, _sep, tail = rest.partition(end)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)


def add_odoo_arguments(parser):
    """The options every bench that starts Odoo takes: ``--odoo-src``,
    ``--addons-link`` and the PostgreSQL server (``--db-host``, ``--db-port``,
    ``--db-user``), by default from the environment (ODOO_SRC, PGHOST, ...)."""
    parser.add_argument("--odoo-src", default=os.environ.get("ODOO_SRC", "/opt/odoo19"))
    parser.add_argument("--addons-link", default=os.environ.get("CRM_MAIL_SYNC_ADDONS", ""))
    parser.add_argument("--db-host", default=os.environ.get("PGHOST", "127.0.0.1"))
    parser.add_argument("--db-port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    parser.add_argument("--db-user", default=os.environ.get("PGUSER", os.environ.get("USER", "root")))


def odoo_arguments(args):
    """The options of :func:`add_odoo_arguments` again, as command-line words
    for a phase run in a child process."""
    return [
        *("--odoo-src", args.odoo_src, "--addons-link", args.addons_link),
        *("--db-host", args.db_host, "--db-port", str(args.db_port), "--db-user", args.db_user),
    ]


def odoo_env(args):
    """(registry, cursor factory) of the bench database, in this process."""
    sys.path.insert(0, args.odoo_src)
    import odoo
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(
        [
            f"--addons-path={args.odoo_src}/addons,{args.odoo_src}/odoo/addons,{args.addons_link}",
            f"--db_host={args.db_host}",
            f"--db_port={args.db_port}",
            f"--db_user={args.db_user}",
            "--http-interface=127.0.0.1",
            "--log-level=warn",
        ],
        setup_logging=True,
    )
    registry = Registry(args.db)
    return odoo, registry


def prepare_database(args, contacts):
    """A fresh database with the addon and ``contacts`` contacts (SQL-fast)."""
    subprocess.run(["dropdb", "-h", args.db_host, "-p", str(args.db_port), "--if-exists", args.db], check=True)
    subprocess.run(
        [
            sys.executable,
            os.path.join(args.odoo_src, "odoo-bin"),
            "-d",
            args.db,
            f"--db_host={args.db_host}",
            f"--db_port={args.db_port}",
            f"--db_user={args.db_user}",
            f"--addons-path={args.odoo_src}/addons,{args.odoo_src}/odoo/addons,{args.addons_link}",
            "-i",
            "crm_mail_sync",
            "--without-demo=True",
            "--stop-after-init",
            "--http-interface=127.0.0.1",
            "--log-level=error",
        ],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    odoo, registry = odoo_env(args)
    with registry.cursor() as cr:
        cr.execute(
            """INSERT INTO res_partner (name, complete_name, email, mail_match_key, email_normalized,
                                        active, type, is_company, create_date, write_date)
               SELECT 'Contact ' || n, 'Contact ' || n, e, e, e, true, 'contact', false, now(), now()
                 FROM (SELECT n, 'contact' || n || '@' || (%(domains)s::text[])[n %% %(k)s + 1] AS e
                         FROM generate_series(0, %(count)s - 1) AS n) AS contacts""",
            {"domains": CUSTOMER_DOMAINS, "k": len(CUSTOMER_DOMAINS), "count": contacts},
        )
        cr.execute("UPDATE res_partner SET commercial_partner_id = id WHERE commercial_partner_id IS NULL")
        # A fifth of them also have a secondary address.
        cr.execute(
            """INSERT INTO crm_mail_partner_email (partner_id, email, email_key, create_date, write_date)
               SELECT id, 'alt.' || mail_match_key, 'alt.' || mail_match_key, now(), now()
                 FROM res_partner WHERE name LIKE 'Contact %' AND id % 5 = 0"""
        )
        cr.execute("ANALYZE res_partner; ANALYZE crm_mail_partner_email")


def salesperson_mailbox(env, args, login, address):
    """A salesperson and their connected mailbox on the bench's Dovecot."""
    user = env["res.users"].create({"name": login.replace("-", " ").title(), "login": login, "email": address})
    return env["crm.mail.account"].create(
        {
            "email": address,
            "user_id": user.id,
            "imap_host": "127.0.0.1",
            "imap_port": args.port,
            "imap_security": "none",
            "imap_login": address,
            "imap_password": PASSWORD,
            "state": "connected",
            "sync_window_days": 365,
        }
    )


# -- phases (each in its own process) --------------------------------------
def timed_after_commit(cr, run):
    """Commit what was set up, then call ``run()``: the seconds it took (wall clock)."""
    cr.commit()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def count(cr, query, params=()):
    """The single number ``query`` selects."""
    cr.execute(query, params)
    return cr.fetchone()[0]


def phase_a(args):
    """Stock fetchmail: one message per round trip, message_process into leads."""
    odoo, registry = odoo_env(args)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        server = env["fetchmail.server"].create(
            {
                "name": "bench",
                "server_type": "imap",
                "server": "127.0.0.1",
                "port": args.port,
                "is_ssl": False,
                "user": FETCHMAIL_USER,
                "password": PASSWORD,
                "object_id": env.ref("crm.model_crm_lead").id,
                "state": "done",
            }
        )
        elapsed = timed_after_commit(cr, lambda: server._fetch_mail(batch_limit=10**9))
        return {"seconds": elapsed, "messages": args.messages, "stored": count(cr, "SELECT count(*) FROM crm_lead")}


def phase_b(args):
    """Our cron: headers first, bodies of matches, batch commits."""
    odoo, registry = odoo_env(args)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        account = salesperson_mailbox(env, args, "bench-seller", SYNC_USER)
        elapsed = timed_after_commit(cr, lambda: account._cron_sync(budget_seconds=10**6))
        stored = count(cr, "SELECT count(*) FROM crm_mail_interaction")
        return {"seconds": elapsed, "messages": args.messages, "stored": stored}


def phase_r(args):
    """Memory: our cron on a mailbox holding a 100 MB message and a
    1,000-attachment message besides ordinary mail (default size limits)."""
    odoo, registry = odoo_env(args)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        account = salesperson_mailbox(env, args, "memory-seller", MEMORY_USER)
        elapsed = timed_after_commit(cr, lambda: account._cron_sync(budget_seconds=10**6))
        return {
            "seconds": elapsed,
            "stored": count(cr, "SELECT count(*) FROM crm_mail_interaction_share WHERE account_id = %s", [account.id]),
            "skipped": count(cr, "SELECT count(*) FROM crm_mail_skipped_message WHERE account_id = %s", [account.id]),
        }


def phase_c(args):
    """The ceiling: every message fetched in batches and parsed, no Odoo."""
    from mailsync.imap import ImapSettings, connect
    from mailsync.imap_sync import MailboxSync
    from mailsync.message import parse_headers, parse_message

    settings = ImapSettings("127.0.0.1", args.port, "none", ENGINE_USER, PASSWORD)
    started = time.perf_counter()
    parsed = 0
    with connect(settings) as session:
        for batch in MailboxSync(session, batch_size=200).batches():
            for record in batch.records:
                parse_headers(record.raw_headers)
            for raw in batch.fetch_bodies([record.uid for record in batch.records]).values():
                parse_message(raw)
                parsed += 1
    return {"seconds": time.perf_counter() - started, "messages": parsed}


def phase_d(args):
    """Idle poll of 100 unchanged mailboxes, as the cron does it (engine's poll:
    connect, one STATUS per folder, logout; mailboxes overlapped in threads)."""
    from mailsync.imap import ImapSettings, connect
    from mailsync.imap_sync import MailboxSync, poll

    jobs = []
    for login in IDLE_USERS:
        settings = ImapSettings("127.0.0.1", args.port, "none", login, PASSWORD)
        with connect(settings) as session:
            jobs.append((settings, list(MailboxSync(session).batches())[-1].state, None))
    started = time.perf_counter()
    changed = sum(poll(jobs))
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "mailboxes": len(jobs), "changed": changed}


def phase_m(args):
    """Matching 10,000 parsed messages against the contacts, in sync-size batches."""
    odoo, registry = odoo_env(args)
    from mailsync.message import parse_headers

    raws = build_messages(10000, args.contacts, SYNC_USER, seed=7)
    headers = [parse_headers(raw.split(b"\n\n", 1)[0]) for raw in raws]
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        account = env["crm.mail.account"].create(
            {"email": "matcher@bench.example", "imap_host": "x", "imap_login": "x", "user_id": False}
        )
        Interaction = env["crm.mail.interaction"]
        started = time.perf_counter()
        matched = 0
        for start in range(0, len(headers), 200):
            matched += len(Interaction._match(account, [(None, h) for h in headers[start : start + 200]]))
        elapsed = time.perf_counter() - started
        cr.rollback()
    return {"seconds": elapsed, "messages": len(headers), "matched": matched, "contacts": args.contacts}


def phase_f(args):
    contacts = {contact_email(n) for n in range(args.sync_contacts)}
    return scale.phase_f(args, contacts, ENGINE_USER, PASSWORD, body_chunk=25)


def phase_s(args):
    """The mailboxes of the worker runs, created once, inactive."""
    odoo, registry = odoo_env(args)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        logins = [login for run in range(len(args.workers)) for login in scale.farm_logins(args.farm_mailboxes, run)]
        accounts = scale.create_mailboxes(env, args, logins, PASSWORD)
        cr.execute("UPDATE crm_mail_account SET active = false WHERE id = ANY(%s)", [accounts.ids])
    return {"mailboxes": len(logins)}


PHASES = {
    "a": phase_a,
    "b": phase_b,
    "c": phase_c,
    "d": phase_d,
    "f": phase_f,
    "l": lambda args: scale.phase_l(args, odoo_env, build_messages, salesperson_mailbox),
    "m": phase_m,
    "p": lambda args: scale.phase_p(args, odoo_env, PASSWORD),
    "r": phase_r,
    "s": phase_s,
    "w": lambda args: scale.phase_w(args, odoo_env, PASSWORD),
}


def phase_command(args, phase, port, db):
    command = [sys.executable, __file__, "--phase", phase, "--port", str(port), "--db", db]
    command += ["--messages", str(args.messages), "--contacts", str(args.contacts)]
    command += ["--sync-contacts", str(args.sync_contacts), "--mailboxes", str(args.mailboxes)]
    command += ["--first-port", str(args.first_port or port), "--workers", ",".join(map(str, args.workers))]
    command += ["--farm-mailboxes", str(args.farm_mailboxes), "--farm-messages", str(args.farm_messages)]
    command += ["--log-messages", str(args.log_messages), "--profile-messages", str(args.profile_messages)]
    if args.barrier:
        command += ["--barrier", args.barrier]
    return command + odoo_arguments(args)


def run_phase(args, phase, port, db):
    output = subprocess.run(
        phase_command(args, phase, port, db), check=True, capture_output=True, text=True, env=os.environ
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run_phases_at_once(args, phase, port, db, count):
    """``count`` processes of ``phase`` started together (Odoo workers); their results."""
    processes = [
        subprocess.Popen(phase_command(args, phase, port, db), stdout=subprocess.PIPE, text=True, env=os.environ)
        for _n in range(count)
    ]
    results = []
    for process in processes:
        output, _ = process.communicate()
        if process.returncode:
            raise subprocess.CalledProcessError(process.returncode, process.args)
        results.append(json.loads(output.strip().splitlines()[-1]))
    return results


# -- orchestration -----------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--contacts", type=int, default=100000, help="contacts for the matching benchmark (m)")
    parser.add_argument("--sync-contacts", type=int, default=1000, help="CRM contacts for phases a-b")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="round trip added in the second pass")
    add_odoo_arguments(parser)
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument(
        "--db-prefix",
        default="crm_mail_sync_bench",
        help="prefix of the bench's databases (dropped and created again): one per engineer on a shared server",
    )
    parser.add_argument(
        "--only",
        default="sync,memory,matching,idle,workers,logging",
        help="comma-separated sections to run: sync (a-d and the fair ceiling c'), fair (b, c and c' only), "
        "memory (r), matching (m), idle (1,000-mailbox idle poll), workers (1/2/4 workers), logging",
    )
    parser.add_argument("--mailboxes", type=int, default=1000, help="mailboxes of the idle poll section")
    parser.add_argument("--farm-mailboxes", type=int, default=200, help="mailboxes of the workers section")
    parser.add_argument("--farm-messages", type=int, default=50, help="messages per mailbox of the workers section")
    parser.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2, 4],
        help="cron worker counts of the workers section",
    )
    parser.add_argument("--log-messages", type=int, default=10000, help="messages of the logging section")
    parser.add_argument("--profile-messages", type=int, default=2000, help="of which logged again under cProfile")
    parser.add_argument("--first-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--barrier", default="", help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", default="crm_mail_sync_bench", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        result = PHASES[args.phase](args)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return

    os.environ.setdefault("CRM_MAIL_SYNC_KEY", _bench_key())
    print(f"Seeding {args.messages} messages ...", file=sys.stderr)
    messages = build_messages(args.messages, args.sync_contacts, SYNC_USER)
    only = set(args.only.split(","))
    logins = [FETCHMAIL_USER, SYNC_USER, ENGINE_USER, MEMORY_USER, *IDLE_USERS]
    if "idle" in only:
        logins += scale.poll_logins(args.mailboxes)
    if "workers" in only:
        logins += [login for run in range(len(args.workers)) for login in scale.farm_logins(args.farm_mailboxes, run)]
    users = dict.fromkeys(logins, PASSWORD)
    results = {}
    with DovecotServer(users=users, extra_config="mail_fsync = never\n") as dovecot:
        if only & {"sync", "fair"}:
            for login in (FETCHMAIL_USER, SYNC_USER, ENGINE_USER):
                seed(dovecot, login, messages)
            idle = build_messages(5, args.sync_contacts, "idle@bench.example", seed=3)
            for login in IDLE_USERS:
                seed(dovecot, login, idle)
        passes = (("loopback", 0.0), (f"{args.latency_ms:g} ms RTT", args.latency_ms))
        phases = ("b", "a", "c", "f", "d") if "sync" in only else ("b", "c", "f")
        for label, latency in passes if only & {"sync", "fair"} else ():
            with LatencyProxy(dovecot.host, dovecot.port, latency / 1000.0) as proxy:
                port = proxy.port if latency else dovecot.port  # loopback: straight to Dovecot
                db = f"{args.db_prefix}_{'lat' if latency else 'lo'}"
                args.db = db
                print(f"[{label}] preparing the Odoo database ...", file=sys.stderr)
                prepare_database(args, args.sync_contacts)
                results[label] = {}
                # b before a: the leads fetchmail creates would otherwise match every message in b
                for phase in phases:
                    print(f"[{label}] phase {phase} ...", file=sys.stderr)
                    results[label][phase] = run_phase(args, phase, port, db)
                # the next pass reads the same mail again
                for login in (FETCHMAIL_USER,):
                    client = dovecot.client(login)
                    client.select_folder("INBOX")
                    client.remove_flags(client.search(["ALL"]), [b"\\Seen"])
                    client.logout()
        if "memory" in only:
            print("Memory benchmark ...", file=sys.stderr)
            seed(dovecot, MEMORY_USER, messages[:200])
            for heavy in heavy_messages(MEMORY_USER):
                seed(dovecot, MEMORY_USER, [heavy])
                del heavy
            args.db = f"{args.db_prefix}_memory"
            prepare_database(args, args.sync_contacts)
            results["memory"] = run_phase(args, "r", dovecot.port, args.db)
            # The baseline, in the same run: the same sync of ordinary mail only.
            if "sync" not in only:
                seed(dovecot, SYNC_USER, messages[:200])
            results["memory"]["baseline"] = run_phase(args, "b", dovecot.port, args.db)
            results["memory"]["baseline_messages"] = args.messages if "sync" in only else 200
        scale_sections(args, only, dovecot, results)
        if "matching" in only:
            print("Matching benchmark ...", file=sys.stderr)
            args.db = f"{args.db_prefix}_match"
            prepare_database(args, args.contacts)
            results["matching"] = run_phase(args, "m", dovecot.port, args.db)
    report = render(args, results)
    print(report)
    with open(args.output, "w") as f:
        f.write(report)


def scale_sections(args, only, dovecot, results):
    """The idle poll, workers and logging sections (issue 14), in one database."""
    if not only & {"idle", "workers", "logging"}:
        return
    args.db = f"{args.db_prefix}_scale"
    print("[scale] preparing the Odoo database ...", file=sys.stderr)
    prepare_database(args, args.sync_contacts)
    if "idle" in only:
        results["idle"] = {}
        args.first_port = dovecot.port
        for label, latency in (("loopback", 0.0), (f"{args.latency_ms:g} ms RTT", args.latency_ms)):
            with LatencyProxy(dovecot.host, dovecot.port, latency / 1000.0) as proxy:
                print(f"[idle, {label}] {args.mailboxes} mailboxes ...", file=sys.stderr)
                port = proxy.port if latency else dovecot.port
                results["idle"][label] = run_phase(args, "p", port, args.db)
        args.first_port = None
    if "workers" in only:
        results["workers"] = workers_section(args, dovecot)
    if "logging" in only:
        print(f"[logging] {args.log_messages} messages ...", file=sys.stderr)
        results["logging"] = run_phase(args, "l", dovecot.port, args.db)


def workers_section(args, dovecot):
    """Initial sync of ``farm_mailboxes`` x ``farm_messages`` by each worker
    count at once, each count on its own fresh mailboxes."""
    import psycopg2

    from mailsync.message import parse_headers

    contacts = {contact_email(n) for n in range(args.sync_contacts)}
    expected = {}
    print("[workers] seeding ...", file=sys.stderr)
    for run in range(len(args.workers)):
        for index, login in enumerate(scale.farm_logins(args.farm_mailboxes, run)):
            messages = build_messages(args.farm_messages, args.sync_contacts, login, seed=1000 * run + index)
            seed(dovecot, login, messages)
            headers = [parse_headers(raw.split(b"\n\n", 1)[0]) for raw in messages]
            expected[login] = {h.message_id for h in headers if h.participants() & contacts}
    run_phase(args, "s", dovecot.port, args.db)
    report = {}
    connection = psycopg2.connect(host=args.db_host, port=args.db_port, user=args.db_user, dbname=args.db)
    try:
        for run, count in enumerate(args.workers):
            logins = scale.farm_logins(args.farm_mailboxes, run)
            with connection.cursor() as cr:
                scale._only_active(cr, scale.FARM_DOMAIN, suffix=f"farm{run}-")
            connection.commit()
            print(f"[workers] {count} at once ...", file=sys.stderr)
            with tempfile.TemporaryDirectory() as barrier:
                args.barrier = f"{barrier}:{count}"
                results = run_phases_at_once(args, "w", dovecot.port, args.db, count)
            args.barrier = ""
            with connection.cursor() as cr:
                report[count] = scale.workers_report(cr, logins, {login: expected[login] for login in logins}, results)
            report[count]["messages"] = args.farm_mailboxes * args.farm_messages
    finally:
        connection.close()
    return report


def peak_rss_mb():
    """This process's peak resident set (MB). VmHWM belongs to the process's
    own memory image; ``ru_maxrss`` would not do: Linux keeps it across
    execve, so a phase would report its parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bench_key():
    from mailsync import secrets

    return secrets.generate_key()


def render(args, results):
    lines = [
        "# Benchmark results",
        "",
        f"Run on {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC by `make bench` "
        f"(`python bench/run.py --messages {args.messages} --contacts {args.contacts}`).",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; PostgreSQL and Dovecot 2.3 on the same machine.",
        "",
        f"Mailbox: {args.messages} messages (plain, HTML, multipart; 10 % with a 50 KB PDF); about a third "
        f"from {args.sync_contacts} CRM contacts.",
        "",
    ]
    for label in [key for key in results if key not in ("matching", "memory", "idle", "workers", "logging")]:
        r = results[label]
        if "b" not in r:
            continue
        rate = {phase: r[phase]["messages"] / r[phase]["seconds"] for phase in "abc" if phase in r}
        lines += [
            f"## {label}",
            "",
            "| | what | figure | peak RSS |",
            "|---|---|---|---|",
        ]
        if "a" in r:
            lines.append(
                f"| a | stock fetchmail (into leads) | {rate['a']:.1f} msg/s ({r['a']['seconds']:.1f} s) | "
                f"{r['a']['peak_rss_mb']:.0f} MB |"
            )
        lines += [
            f"| b | crm_mail_sync initial sync | {rate['b']:.1f} msg/s ({r['b']['seconds']:.1f} s, "
            f"{r['b']['stored']} logged) | {r['b']['peak_rss_mb']:.0f} MB |",
            f"| c | ceiling: batched FETCH + parse | {rate['c']:.1f} msg/s ({r['c']['seconds']:.1f} s) | "
            f"{r['c']['peak_rss_mb']:.0f} MB |",
        ]
        if "f" in r:
            rate["f"] = r["f"]["messages"] / r["f"]["seconds"]
            lines.append(
                f"| c' | fair ceiling: batched header FETCH + BODY.PEEK of the same {r['f']['bodies']} + parse | "
                f"{rate['f']:.1f} msg/s ({r['f']['seconds']:.1f} s) | {r['f']['peak_rss_mb']:.0f} MB |"
            )
        if "d" in r:
            lines.append(
                f"| d | idle poll of 100 mailboxes | {r['d']['seconds'] * 1000 / r['d']['mailboxes']:.1f} ms per "
                f"mailbox | {r['d']['peak_rss_mb']:.0f} MB |"
            )
        ratios = [f"**b/c = {rate['b'] / rate['c']:.2f}** (target >= 0.4)"]
        if "a" in rate:
            ratios.insert(0, f"**b/a = {rate['b'] / rate['a']:.1f}** (target >= 10)")
        if "f" in rate:
            ratios.append(f"**b/c' = {rate['b'] / rate['f']:.2f}** (target >= 0.8)")
        lines += ["", "Ratios: " + ", ".join(ratios) + ".", ""]
    r = results.get("memory")
    if r:
        lines += [
            "## Memory",
            "",
            "200 ordinary messages plus a 100 MB message and a message with 1,000 attachments of 20 KB, all "
            f"from CRM contacts, default limits (messages above 50 MB logged from their headers, attachments "
            f"above 25 MB noted): **peak RSS {r['peak_rss_mb']:.0f} MB** (target < 300 MB; the same sync "
            f"of {r['baseline_messages']} ordinary messages in the same run: {r['baseline']['peak_rss_mb']:.0f} MB), "
            f"{r['stored']} logged, "
            f"{r['skipped']} not logged, {r['seconds']:.1f} s.",
            "",
        ]
    lines += scale.render(args, results, " ".join(f"{n:.1f}" for n in os.getloadavg()))
    m = results.get("matching")
    if not m:
        return "\n".join(lines)
    lines += [
        "## Matching",
        "",
        f"{m['messages']} messages against {m['contacts']} contacts (a fifth with a secondary address), in "
        f"batches of 200: **{m['seconds']:.2f} s** (target <= 2 s), {m['matched']} messages matched, "
        f"peak RSS {m['peak_rss_mb']:.0f} MB.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
