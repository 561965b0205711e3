"""Company email logging throughput (issue 16): the queue folder processed.

    make bench                                   # 5,000 messages, loopback and 30 ms RTT
    python bench/queue_bench.py --messages 5000 [--latency-ms 30] [--output bench/RESULTS.md]

A real private Dovecot holds, for each pass, two copies of the same mail (the
messages everyone Bccs or forwards to the logging address: plain, HTML and
multipart, 10 % with a 50 KB PDF, a third from CRM contacts, addressed to or
sent by a salesperson). In the same run, on plain loopback and then through
bench/latency_proxy.py (30 ms of round trip between Odoo and Dovecot):

  q. the cron processing a company logging mailbox: every message logged for
     its owner, the batch committed, then moved to the storage folder;
  l. logging alone: the same cron on the other copy with the move left out
     (``QueueReader.move_pending`` does nothing), the baseline of q.

Both phases start from copies of one prepared database (``createdb -T``), each
in its own process. Prints the Markdown section, and with ``--output`` puts it
in bench/RESULTS.md between its markers (the rest of the file is kept).
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # importing run puts the addon (the engine, mailsync) on sys.path too

from latency_proxy import LatencyProxy  # noqa: E402
from run import (  # noqa: E402
    add_odoo_arguments,
    build_messages,
    odoo_arguments,
    odoo_env,
    peak_rss_mb,
    prepare_database,
    seed,
    write_section,
)

from mailsync.testing.dovecot import DovecotServer  # noqa: E402

PASSWORD = "bench-password"
SELLER = "seller@bench.example"
STORAGE, NOT_LOGGED = "Logged", "Not logged"
BEGIN, END = "<!-- queue bench: begin -->", "<!-- queue bench: end -->"


def queue_login(phase, label):
    return f"{'queue' if phase == 'q' else 'alone'}-{label}@bench.example"


def phase_queue(args):
    """One run of the cron over a logging mailbox; ``args.move`` says whether
    processed messages are moved (q) or left where they are (l)."""
    odoo, registry = odoo_env(args)
    # The engine as the addon imports it (not bench's sys.path copy, another module object).
    from odoo.addons.crm_mail_sync.mailsync import queue as engine_queue

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["res.users"].create({"name": "Sam Seller", "login": "seller", "email": SELLER})
        box = env["crm.mail.account"].create(
            {
                "email": args.login,
                "kind": "queue",
                "user_id": False,
                "sharing": "everyone",
                "imap_host": "127.0.0.1",
                "imap_port": args.port,
                "imap_security": "none",
                "imap_login": args.login,
                "imap_password": PASSWORD,
                "queue_storage_folder": STORAGE,
                "queue_not_logged_folder": NOT_LOGGED,
            }
        )
        box.write({"queue_enabled": True})  # validates the setup against the server first
        cr.commit()
        move = engine_queue.QueueReader.move_pending
        moves = {"seconds": 0.0, "batches": 0}

        def timed_move(reader):
            started = time.perf_counter()
            move(reader)
            moves["seconds"] += time.perf_counter() - started
            moves["batches"] += 1

        engine_queue.QueueReader.move_pending = timed_move if args.move else (lambda reader: None)
        try:
            started = time.perf_counter()
            box._cron_sync(budget_seconds=10**6)
            elapsed = time.perf_counter() - started
        finally:
            engine_queue.QueueReader.move_pending = move
        cr.execute(
            "SELECT count(DISTINCT interaction_id) FROM crm_mail_interaction_share WHERE account_id = %s", [box.id]
        )
        logged = cr.fetchone()[0]
        box.invalidate_recordset()
        state, error = box.state, box.last_error or ""
    counts = folder_counts(args.port, args.login)
    return {
        "seconds": elapsed,
        "move_seconds": moves["seconds"],
        "moves": moves["batches"],
        "messages": args.messages,
        "logged": logged,
        "folders": counts,
        "state": state,
        "error": error[:200],
    }


def folder_counts(port, login):
    from mailsync.imap import ImapSettings, connect

    counts = {}
    with connect(ImapSettings("127.0.0.1", port, "none", login, PASSWORD)) as session:
        for name in ("INBOX", STORAGE, NOT_LOGGED):
            counts[name] = session.client.folder_status(name, [b"MESSAGES"])[b"MESSAGES"]
    return counts


def run_phase(args, phase, port, db, login):
    command = [sys.executable, __file__, "--phase", phase, "--port", str(port), "--db", db, "--login", login]
    command += ["--messages", str(args.messages), *odoo_arguments(args)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ).stdout
    return json.loads(output.strip().splitlines()[-1])


def pg(args, *command):
    subprocess.run(
        [command[0], "-h", args.db_host, "-p", str(args.db_port), "-U", args.db_user, *command[1:]], check=True
    )


def load_average():
    with contextlib.suppress(OSError):
        return ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--contacts", type=int, default=1000, help="CRM contacts in the database")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="round trip added in the second pass")
    add_odoo_arguments(parser)
    parser.add_argument("--output", help="bench/RESULTS.md: the section between its markers is replaced")
    parser.add_argument("--phase", choices=("q", "l"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--login", help=argparse.SUPPRESS)
    parser.add_argument("--db", default="crm_mail_sync_bench_queue", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        args.move = args.phase == "q"
        result = phase_queue(args)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return

    from run import _bench_key

    os.environ.setdefault("CRM_MAIL_SYNC_KEY", _bench_key())
    passes = (("loopback", 0.0), (f"{args.latency_ms:g} ms RTT", args.latency_ms))
    labels = {"loopback": "lo", passes[1][0]: "lat"}
    messages = build_messages(args.messages, args.contacts, SELLER, seed=16)
    users = {queue_login(phase, labels[label]): PASSWORD for label, _ms in passes for phase in "ql"}
    template = "crm_mail_sync_bench_queue_tpl"
    args.db = template
    print(f"Preparing the Odoo database ({args.contacts} contacts) ...", file=sys.stderr)
    prepare_database(args, args.contacts)
    from odoo import sql_db

    sql_db.close_all()  # the template is copied: nobody may be connected to it
    results, loads = {}, []
    with DovecotServer(users=users, extra_config="mail_fsync = never\n") as dovecot:
        print(f"Seeding 4 x {args.messages} messages ...", file=sys.stderr)
        for login in users:
            seed(dovecot, login, messages)
            client = dovecot.client(login)
            for name in (STORAGE, NOT_LOGGED):
                client.create_folder(name)
            client.logout()
        for label, latency in passes:
            results[label] = {}
            with LatencyProxy(dovecot.host, dovecot.port, latency / 1000.0) as proxy:
                port = proxy.port if latency else dovecot.port  # loopback: straight to Dovecot
                for phase in ("l", "q"):
                    db = f"crm_mail_sync_bench_queue_{labels[label]}_{phase}"
                    pg(args, "dropdb", "--if-exists", db)
                    pg(args, "createdb", "-T", template, db)
                    print(f"[{label}] phase {phase} ...", file=sys.stderr)
                    results[label][phase] = run_phase(args, phase, port, db, queue_login(phase, labels[label]))
                    loads.append(load_average())
    report = render(args, results, loads)
    print(report)
    if args.output:
        write_section(args.output, report, BEGIN, END)


def render(args, results, loads):
    lines = [
        BEGIN,
        "## Company email logging: the queue (issue 16)",
        "",
        f"Run on {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC by `make bench` "
        f"(`python bench/queue_bench.py --messages {args.messages}`); {platform.machine()}, {os.cpu_count()} CPUs "
        "shared with other work, PostgreSQL and Dovecot 2.3 on the same machine.",
        "",
        f"{args.messages} messages in the queue folder (plain, HTML, multipart; 10 % with a 50 KB PDF; a third "
        f"from {args.contacts} CRM contacts; each addressed to a salesperson), the cron processing them in "
        "batches of 200: **q** logs every message for its owner, commits, then moves the batch to the "
        "storage folder; **l** is the same cron with the move left out (logging alone), on a copy of the "
        "same mail and database, in the same run.",
        "",
        "| pass | q: logged and moved | l: logging alone | q/l | time in the moves (q) | logged (q, l) "
        "| queue, storage after q | queue after l |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, r in results.items():
        q, alone = r["q"], r["l"]
        rate_q, rate_l = q["messages"] / q["seconds"], alone["messages"] / alone["seconds"]
        lines.append(
            f"| {label} | {rate_q:.1f} msg/s ({q['seconds']:.1f} s) | {rate_l:.1f} msg/s ({alone['seconds']:.1f} s) "
            f"| **{rate_q / rate_l:.2f}** | {q['move_seconds']:.2f} s ({q['moves']} calls, "
            f"{100 * q['move_seconds'] / q['seconds']:.1f} % of q) | {q['logged']}, {alone['logged']} | "
            f"{q['folders']['INBOX']}, {q['folders'][STORAGE]} | {alone['folders']['INBOX']} |"
        )
    peak = max(r[phase]["peak_rss_mb"] for r in results.values() for phase in "ql")
    lines += [
        "",
        f"Peak RSS of a phase: {peak:.0f} MB. Load average (1, 5, 15 min) after each phase: " + "; ".join(loads) + ".",
        "",
        "Reading these figures:",
        "",
        "- The move's own cost is the *time in the moves* column: the time spent in "
        "`QueueReader.move_pending` (one `UID MOVE` of the batch's UID set, or COPY + STORE + UID EXPUNGE "
        "without MOVE, after the commit; one call per batch of 200, plus the empty last one). q/l, the rate "
        "with the move over the rate of logging alone, is the same comparison end to end, but on this "
        "shared machine its noise (other engineers' test runs; l runs first, q second, each on its own copy "
        "of the mail and the database) is larger than the move itself.",
        "- The queue is an order of magnitude slower than a salesperson's mailbox (b of the sync benchmark "
        "above): it downloads every body (a forward must be opened to find its original; a message that "
        "matches no contact is moved too), and it matches and logs one message at a time, each in its own "
        "savepoint, so that a message that cannot be logged goes to “Not logged” without holding the others "
        "back; a mailbox matches 200 messages at once. Logging (creating the entry, its attachments and "
        "chatter entries) is most of the rest.",
        "- “logged” counts entries: a message from no CRM contact has none (it is moved all the same); "
        "a message addressed to several salespeople would have one each (here: one salesperson).",
        "- The machine is shared (2 cores): compare figures of one run, not absolute rates across runs.",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
