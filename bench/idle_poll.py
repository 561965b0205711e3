"""The engine's idle poll against a stock imapclient poll, same run (issue 14).

    python bench/idle_poll.py --mailboxes 100 --rounds 5

Both poll the same unchanged mailboxes of a private Dovecot, 16 at a time in
threads, on loopback and through the 30 ms latency proxy, rounds alternated:

- now: ``mailsync.imap_sync.poll`` (the greeting's capabilities kept, the
  STATUS of both folders pipelined, LOGOUT not waited for: two round trips
  after the greeting);
- stock: imapclient as it comes (CAPABILITY after the greeting, LOGIN, one
  STATUS per folder one after the other, LOGOUT awaited: five).

Prints the median ms per mailbox of each and their ratio (stock/now).
"""

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import imapclient  # noqa: E402
from latency_proxy import LatencyProxy  # noqa: E402

from mailsync.imap import ImapSettings, connect  # noqa: E402
from mailsync.imap_sync import MailboxSync, poll  # noqa: E402
from mailsync.testing.dovecot import DovecotServer  # noqa: E402


def stock_poll(job):
    settings, state, _sent_folder = job
    client = imapclient.IMAPClient(settings.host, port=settings.port, ssl=False, timeout=20)
    try:
        client.login(settings.username, settings.password)
        changed = False
        for known in state.folders.values():
            status = client.folder_status(known.name, [b"UIDNEXT", b"UIDVALIDITY"])
            changed |= status.get(b"UIDNEXT") != known.uidnext or status.get(b"UIDVALIDITY") != known.uidvalidity
        return changed
    finally:
        client.logout()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mailboxes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    users = {f"poll{n}@bench.example": "bench-password" for n in range(args.mailboxes)}
    with DovecotServer(users=users, extra_config="mail_fsync = never\n") as dovecot:
        states = []
        for login in users:
            with connect(ImapSettings(dovecot.host, dovecot.port, "none", login, "bench-password")) as session:
                states.append(list(MailboxSync(session).batches())[-1].state)
        for label, rtt in ((f"{args.latency_ms:g} ms RTT", args.latency_ms / 1000), ("loopback", 0.0)):
            with LatencyProxy(dovecot.host, dovecot.port, rtt) as proxy:
                port = proxy.port if rtt else dovecot.port
                jobs = [
                    (ImapSettings("127.0.0.1", port, "none", login, "bench-password"), state, None)
                    for login, state in zip(users, states, strict=True)
                ]
                now, stock = [], []
                for _round in range(args.rounds):
                    started = time.perf_counter()
                    changed = any(poll(jobs))
                    now.append((time.perf_counter() - started) * 1000 / len(jobs))
                    started = time.perf_counter()
                    with ThreadPoolExecutor(16) as pool:
                        changed |= any(pool.map(stock_poll, jobs))
                    stock.append((time.perf_counter() - started) * 1000 / len(jobs))
                    if changed:
                        sys.exit("an unchanged mailbox was reported changed: the figures would be wrong")
                a, b = statistics.median(now), statistics.median(stock)
                print(f"{label}: now {a:.1f} ms per mailbox, stock {b:.1f} ms, stock/now {b / a:.2f}")
    print(f"load average {' '.join(f'{n:.1f}' for n in os.getloadavg())}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
