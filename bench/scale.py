"""Scale sections of the bench (issue 14), run by bench/run.py:

  p. idle poll of many unchanged mailboxes (default 1,000, one private
     Dovecot) in one run of the cron, loopback and through the latency proxy;
  w. initial sync of 200 mailboxes x 50 messages by 1, 2 and 4 cron workers at
     once (separate Odoo processes on one database), with the proof that every
     message was logged exactly once and no mailbox was synced by two workers
     at the same time;
  f. the fair ceiling c': batched header FETCH of everything, BODY.PEEK of the
     same subset the sync downloads (the messages of CRM contacts) and parsing,
     no Odoo;
  l. logging alone: parsed messages (headers and bodies already fetched) into
     logged emails and chatter entries, per second, then profiled (cProfile).

Each phase runs in its own process (see run.py); the worker phase is started
N times at once.
"""

import cProfile
import io
import os
import pstats
import time

POLL_DOMAIN = "poll.bench.example"
FARM_DOMAIN = "farm.bench.example"
LOG_USER = "logging@bench.example"


def poll_logins(count):
    return [f"poll{n}@{POLL_DOMAIN}" for n in range(count)]


def farm_logins(count, run):
    """The mailboxes of one worker-count run (each run syncs its own, fresh)."""
    return [f"farm{run}-{n}@{FARM_DOMAIN}" for n in range(count)]


def create_mailboxes(env, args, logins, password):
    """A salesperson and their connected mailbox per login, in two creates."""
    users = (
        env["res.users"]
        .with_context(no_reset_password=True, mail_create_nolog=True, tracking_disable=True)
        .create([{"name": login.split("@")[0], "login": login, "email": login} for login in logins])
    )
    return env["crm.mail.account"].create(
        [
            {
                "email": login,
                "user_id": user.id,
                "imap_host": "127.0.0.1",
                "imap_port": args.port,
                "imap_security": "none",
                "imap_login": login,
                "imap_password": password,
                "state": "connected",
                "sync_window_days": 365,
            }
            for login, user in zip(logins, users, strict=True)
        ]
    )


def _only_active(cr, domain, suffix=None):
    """Leave active only the bench mailboxes of ``domain`` (and, with
    ``suffix``, only those whose address contains it): the cron claims every
    due mailbox of the database."""
    like = f"%{suffix}%@{domain}" if suffix else f"%@{domain}"
    cr.execute("UPDATE crm_mail_account SET active = (email LIKE %s)", [like])


def _due(cr):
    cr.execute(
        """SELECT count(*) FROM crm_mail_account
            WHERE active AND state IN ('connected', 'error') AND NOT coalesce(sync_paused, false)
              AND (next_sync IS NULL OR next_sync <= now() AT TIME ZONE 'UTC')"""
    )
    return cr.fetchone()[0]


# -- p: idle poll ----------------------------------------------------------
def phase_p(args, odoo_env, password):
    """The cron's idle poll of ``args.mailboxes`` unchanged mailboxes: their
    first sync (on loopback, not timed), then every mailbox due again and one
    cron run, timed, through ``args.port`` (Dovecot or the latency proxy)."""
    odoo, registry = odoo_env(args)
    logins = poll_logins(args.mailboxes)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        Account = env["crm.mail.account"].with_context(active_test=False)
        accounts = Account.search([("email", "in", logins)])
        if not accounts:
            accounts = create_mailboxes(env, args, logins, password)
        _only_active(cr, POLL_DOMAIN)
        cr.execute("UPDATE crm_mail_account SET imap_port = %s WHERE id = ANY(%s)", [args.first_port, accounts.ids])
        cr.commit()
        first = time.perf_counter()
        while _due(cr):
            env["crm.mail.account"]._cron_sync()
            cr.commit()
        first = time.perf_counter() - first
        cr.execute(
            """UPDATE crm_mail_account SET imap_port = %s, next_sync = now() AT TIME ZONE 'UTC' - interval '1 second'
                WHERE id = ANY(%s)""",
            [args.port, accounts.ids],
        )
        cr.commit()
        env.invalidate_all()
        from odoo.addons.crm_mail_sync.models import crm_mail_account_sync as sync_module

        budget = sync_module.time_budget()
        started = time.perf_counter()
        env["crm.mail.account"]._cron_sync()
        elapsed = time.perf_counter() - started
        cr.commit()
        cr.execute(
            """SELECT count(*) FILTER (WHERE next_sync > now() AT TIME ZONE 'UTC'),
                      count(*) FILTER (WHERE state != 'connected')
                 FROM crm_mail_account WHERE id = ANY(%s)""",
            [accounts.ids],
        )
        polled, failed = cr.fetchone()
    return {
        "seconds": elapsed,
        "mailboxes": len(logins),
        "polled": polled,
        "failed": failed,
        "budget": budget,
        "limit": sync_module.cron_time_limit(),
        "first_sync_seconds": first,
    }


# -- w: one cron worker among several ---------------------------------------
def phase_w(args, odoo_env, _password):
    """One Odoo worker: runs the cron (as Odoo would, one run after the
    other) until no mailbox of this run is due; records each run's length and
    each mailbox sync's start and end (wall clock, to find overlaps between
    workers)."""
    odoo, registry = odoo_env(args)
    intervals = []
    original = registry["crm.mail.account"]._sync

    def timed(self, deadline, token):
        start = time.time()
        try:
            return original(self, deadline, token)
        finally:
            intervals.append((self.id, start, time.time()))

    registry["crm.mail.account"]._sync = timed
    _barrier(args.barrier)  # loading Odoo is not the sync's time: every worker starts together
    runs = []
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        while True:
            started = time.time()
            env["crm.mail.account"]._cron_sync()
            cr.commit()
            runs.append((started, time.time()))
            if not _due(cr):
                break
            cr.commit()
            time.sleep(0.2)  # the others hold the rest: as Odoo's cron, look again shortly
    return {"runs": runs, "intervals": intervals}


def _barrier(spec, timeout=600):
    """Wait until ``count`` processes reached this point: ``spec`` is
    ``"directory:count"`` (each process leaves a file there), or empty."""
    if not spec:
        return
    directory, count = spec.rsplit(":", 1)
    with open(os.path.join(directory, str(os.getpid())), "w", encoding="utf-8"):
        pass
    deadline = time.monotonic() + timeout
    while len(os.listdir(directory)) < int(count) and time.monotonic() < deadline:
        time.sleep(0.05)


def workers_report(cr, logins, expected, results):
    """Exactly-once proof of a multi-worker run: ``expected`` is ``{login:
    set of Message-IDs}`` (the generated messages the sync must log)."""
    cr.execute(
        # One row per email and mailbox that shares it (its sharers, issue 13):
        # the same email twice for one mailbox would be two rows here.
        """SELECT a.email, i.message_id, count(*) OVER (PARTITION BY s.account_id, i.message_key)
             FROM crm_mail_interaction i
             JOIN crm_mail_interaction_share s ON s.interaction_id = i.id
             JOIN crm_mail_account a ON a.id = s.account_id
            WHERE a.email = ANY(%s)""",
        [logins],
    )
    logged, duplicates = {}, 0
    for email, message_id, copies in cr.fetchall():
        logged.setdefault(email, []).append(message_id)
        duplicates += copies > 1
    missing = sum(len(expected[login] - set(logged.get(login, ()))) for login in logins)
    extra = sum(len(set(logged.get(login, ())) - expected[login]) for login in logins)
    repeated = sum(len(ids) - len(set(ids)) for ids in logged.values())
    intervals = sorted(
        (account, start, end, worker) for worker, r in enumerate(results) for account, start, end in r["intervals"]
    )
    by_account = {}
    for account, start, end, worker in intervals:
        by_account.setdefault(account, []).append((start, end, worker))
    overlaps = sum(
        1
        for syncs in by_account.values()
        for i, (s1, e1, w1) in enumerate(syncs)
        for s2, e2, w2 in syncs[i + 1 :]
        if w1 != w2 and s1 < e2 and s2 < e1
    )
    starts = [start for r in results for start, _end in r["runs"]]
    ends = [end for r in results for _start, end in r["runs"]]
    first_claim = {}
    for account, start, _end, _worker in intervals:
        first_claim[account] = min(first_claim.get(account, start), start)
    return {
        "logged": sum(len(ids) for ids in logged.values()),
        "expected": sum(len(ids) for ids in expected.values()),
        "missing": missing,
        "extra": extra,
        "duplicates": duplicates + repeated,
        "overlaps": overlaps,
        "seconds": max(ends) - min(starts),
        "longest_run": max(end - start for r in results for start, end in r["runs"]),
        "runs": sum(len(r["runs"]) for r in results),
        "longest_wait": max(first_claim.values()) - min(starts) if first_claim else 0.0,
        "syncs": len(intervals),
    }


# -- f: the fair ceiling ------------------------------------------------------
def phase_f(args, contacts, engine_user, password, body_chunk):
    """c': every header block fetched in batches, then the bodies of the
    messages that concern a CRM contact (the subset the sync downloads),
    ``body_chunk`` at a time as the sync downloads them, parsed; no Odoo."""
    from mailsync.imap import ImapSettings, connect
    from mailsync.imap_sync import MailboxSync
    from mailsync.message import parse_headers, parse_message

    settings = ImapSettings("127.0.0.1", args.port, "none", engine_user, password)
    started = time.perf_counter()
    headers_read = parsed = 0
    with connect(settings) as session:
        for batch in MailboxSync(session, batch_size=200).batches():
            matched = []
            for record in batch.records:
                headers_read += 1
                if parse_headers(record.raw_headers).participants() & contacts:
                    matched.append(record.uid)
            for start in range(0, len(matched), body_chunk):
                for raw in batch.fetch_bodies(matched[start : start + body_chunk]).values():
                    parse_message(raw)
                    parsed += 1
    return {"seconds": time.perf_counter() - started, "messages": headers_read, "bodies": parsed}


# -- l: logging alone ---------------------------------------------------------
def phase_l(args, odoo_env, build_messages, salesperson_mailbox):
    """Logged emails per second from messages already fetched and parsed
    (``args.log_messages``, all from CRM contacts), logged as the sync logs
    them (chunks of 25, a commit per 200); then ``args.profile_messages``
    other messages logged the same way from a second owner's mailbox, under
    cProfile: the top costs and deterministic call counts."""
    from mailsync.message import parse_message

    odoo, registry = odoo_env(args)
    raws = build_messages(args.log_messages, args.sync_contacts, LOG_USER, seed=11, from_contacts=1.0)
    contents = [parse_message(raw) for raw in raws]
    # Messages of their own for the profile, to the second mailbox's owner:
    # the same messages again would only add a sharer to emails the company
    # already holds, and to the first owner they would match every earlier
    # run's salesperson as a contact.
    raws = build_messages(args.profile_messages, args.sync_contacts, f"second-{LOG_USER}", seed=12, from_contacts=1.0)
    profiled_contents = [parse_message(raw) for raw in raws]
    del raws
    from odoo.addons.crm_mail_sync.models.crm_mail_account_sync import BATCH_SIZE, BODY_CHUNK_MESSAGES

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        Interaction = env["crm.mail.interaction"].sudo()

        def log_all(account, batches):
            # As _ingest logs a batch: the scope of the batch, the matches in
            # chunks of BODY_CHUNK_MESSAGES, a commit per batch.
            logged = 0
            for scope, items in batches:
                for chunk in range(0, len(items), BODY_CHUNK_MESSAGES):
                    logged += len(
                        Interaction._log(account, items[chunk : chunk + BODY_CHUNK_MESSAGES], role="inbox", scope=scope)
                    )
                cr.commit()
            return logged

        def matched(account, subset):
            """``[(scope, [(content, partner ids, lead ids)])]`` per batch of
            BATCH_SIZE, matched as _ingest matches them."""
            batches = []
            for start in range(0, len(subset), BATCH_SIZE):
                scope = account._matching_scope()
                tagged = [(content, content.headers) for content in subset[start : start + BATCH_SIZE]]
                matches = Interaction._match(account, tagged, scope=scope)
                batches.append((scope, [(content, partners, leads) for content, _h, partners, leads in matches]))
            return batches

        account = salesperson_mailbox(env, args, f"logging-seller-{time.time_ns()}", LOG_USER)
        cr.commit()
        items = matched(account, contents)
        started = time.perf_counter()
        logged = log_all(account, items)
        elapsed = time.perf_counter() - started
        cr.execute(
            """SELECT count(*) FROM mail_message m
                WHERE m.crm_mail_interaction_id IN (SELECT interaction_id FROM crm_mail_interaction_share
                                                     WHERE account_id = %s)""",
            [account.id],
        )
        entries = cr.fetchone()[0]

        second = salesperson_mailbox(env, args, f"logging-second-{time.time_ns()}", f"second-{LOG_USER}")
        cr.commit()
        subset = matched(second, profiled_contents)
        profile = cProfile.Profile()
        profiled_started = time.perf_counter()
        profile.enable()
        profiled_logged = log_all(second, subset)
        profile.disable()
        profiled_seconds = time.perf_counter() - profiled_started
        if os.environ.get("BENCH_PROFILE_OUTPUT"):  # for pstats' callers, snakeviz...
            profile.dump_stats(os.environ["BENCH_PROFILE_OUTPUT"])
    return {
        "seconds": elapsed,
        "messages": len(contents),
        "logged": logged,
        "chatter_entries": entries,
        "profiled_messages": profiled_logged,
        "profiled_seconds": profiled_seconds,
        "top": top_costs(profile),
        "counts": call_counts(profile),
        "top_own": top_own_costs(profile),
    }


def top_costs(profile, count=25):
    """The ``count`` functions with the most cumulative time, as text lines
    ``cumulative s | own s | calls | function``."""
    stream = io.StringIO()
    stats = pstats.Stats(profile, stream=stream)
    rows = []
    for (filename, line, name), (_cc, calls, own, cumulative, _callers) in stats.stats.items():
        where = filename.split("/odoo/addons/")[-1].split("/crm_mail_sync/")[-1].split("/site-packages/")[-1]
        where = where.split("/lib/python3.12/")[-1]
        rows.append((cumulative, own, calls, f"{where}:{line}({name})"))
    rows.sort(reverse=True)
    return [f"{c:.2f} | {o:.2f} | {n} | {f}" for c, o, n, f in rows[:count]]


#: Deterministic call counts reported beside the times: (label, file suffix, function).
COUNTED = (
    ("HTML documents parsed (lxml document_fromstring)", "lxml/html/__init__.py", "document_fromstring"),
    ("html_sanitize", "odoo/tools/mail.py", "html_sanitize"),
    ("block_remote_content", "tools/remote_content.py", "block_remote_content"),
    ("ORM searches (search_fetch)", "odoo/orm/models.py", "search_fetch"),
    ("flush_model", "odoo/orm/models.py", "flush_model"),
    ("SQL queries (cursor execute)", "odoo/sql_db.py", "execute"),
    ("matching scopes computed", "models/crm_mail_account.py", "_matching_scope"),
    ("addresses normalized (mailsync.addresses.normalize)", "mailsync/addresses.py", "normalize"),
)


def call_counts(profile):
    """``[(label, calls)]`` of :data:`COUNTED` in ``profile``: the same for the
    same code and data whatever the machine's load."""
    stats = pstats.Stats(profile).stats
    counts = []
    for label, suffix, name in COUNTED:
        calls = sum(
            entry[1]
            for (filename, _line, function), entry in stats.items()
            if function == name and filename.endswith(suffix)
        )
        counts.append((label, calls))
    return counts


def top_own_costs(profile, count=15):
    stats = pstats.Stats(profile)
    rows = sorted(
        (
            (own, calls, f"{filename.split('/')[-1]}:{line}({name})")
            for (filename, line, name), (_cc, calls, own, _cum, _callers) in stats.stats.items()
        ),
        reverse=True,
    )
    return [f"{o:.2f} | {n} | {f}" for o, n, f in rows[:count]]


# -- the report -----------------------------------------------------------------
def render(args, results, load):
    """Markdown of the scale sections present in ``results``."""
    lines = []
    idle = results.get("idle")
    if idle:
        lines += [
            "## Idle poll of 1,000 mailboxes (issue 14)",
            "",
            f"{args.mailboxes} unchanged mailboxes (one private Dovecot, one user each), all due, one run of the "
            "cron (`_cron_sync`, its time budget from Odoo's default limits) in one Odoo process. "
            "Target: <= 30 s per worker through the 30 ms proxy.",
            "",
            "| network | total | per mailbox | polled in the run | errors | cron budget (limit) |",
            "|---|---|---|---|---|---|",
        ]
        for label, r in idle.items():
            lines.append(
                f"| {label} | **{r['seconds']:.1f} s** | {r['seconds'] * 1000 / r['mailboxes']:.1f} ms | "
                f"{r['polled']}/{r['mailboxes']} | {r['failed']} | {r['budget']:.0f} s ({r['limit']:.0f} s) |"
            )
        first = next(iter(idle.values()))["first_sync_seconds"]
        lines += [
            "",
            f"(Their first sync, on loopback, before: {first:.1f} s.)",
            "",
            "Reading these figures: an idle poll is, per mailbox, connect, sign in, one STATUS per synced "
            "folder and logout, overlapped in threads (16 at a time), mailboxes claimed 32 at a time with a "
            "lease; no folder is opened and nothing is downloaded. Through the proxy each round trip costs "
            "30 ms, so the figure is that of the round trips a poll needs; on loopback it is Odoo's own cost "
            "(claims, commits, decrypting each password) and Dovecot's (a login process forked per "
            "connection, on the same cores). All mailboxes should be polled within one run; when the budget "
            "runs out with mailboxes still due, the cron triggers itself again at once.",
            "",
        ]
    workers = results.get("workers")
    if workers:
        lines += [
            "## Several cron workers at once (issue 14)",
            "",
            f"Initial sync of {args.farm_mailboxes} mailboxes x {args.farm_messages} messages (a third from CRM "
            "contacts) by N Odoo processes running the cron at once on one database, loopback; each worker count "
            "on fresh mailboxes. The workers start their first run together (once each has loaded Odoo); each runs "
            "the cron again as soon as a run ends, until no mailbox is due.",
            "",
            "| workers | wall time | messages read/s | logged/s | logged / expected | missing | duplicates "
            "| synced by two at once | longest cron run | longest wait for a first claim |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for count, r in sorted(workers.items(), key=lambda item: int(item[0])):
            lines.append(
                f"| {count} | {r['seconds']:.1f} s | {r['messages'] / r['seconds']:.0f} | "
                f"{r['logged'] / r['seconds']:.0f} | {r['logged']}/{r['expected']} | {r['missing']} | "
                f"{r['duplicates']} | {r['overlaps']} | {r['longest_run']:.1f} s | {r['longest_wait']:.1f} s |"
            )
        lines += [
            "",
            "Reading these figures: exactly once means logged = expected (the generated messages from CRM "
            "contacts, by Message-ID), no missing, no duplicate, and no mailbox synced by two workers at "
            "the same time (each worker records when it synced which mailbox). The machine has 2 cores "
            "shared with PostgreSQL and Dovecot: beyond 2 workers the throughput cannot grow here; the "
            "figure that matters is that it does not fall apart and stays exactly once. A cron run must stay "
            "under `limit_time_real_cron` (120 s by default), and no mailbox may wait more than two intervals "
            "(10 minutes) for its first claim.",
            "",
        ]
    log = results.get("logging")
    if log:
        lines += [
            "## Logging alone (issue 14)",
            "",
            f"{log['messages']} messages from CRM contacts, fetched and parsed beforehand, matched, then logged as "
            f"the sync logs them (`_log` per 25, a commit per 200): **{log['logged'] / log['seconds']:.0f} logged "
            f"emails per second** ({log['logged']} in {log['seconds']:.1f} s, {log['chatter_entries']} chatter "
            f"entries). Under cProfile, {log['profiled_messages']} other messages logged from a second mailbox: "
            f"{log['profiled_seconds']:.1f} s.",
            "",
            "Calls under cProfile (deterministic):",
            "",
            *[f"- {label}: {calls}" for label, calls in log.get("counts", [])],
            "",
            "Top cumulative costs (s cumulative | s own | calls | function):",
            "",
            "```",
            *log["top"],
            "```",
            "",
            "Top own costs (s own | calls | function):",
            "",
            "```",
            *log["top_own"],
            "```",
            "",
        ]
    if lines and load:
        lines += [f"Load average when these sections ended: {load} (2 shared cores).", ""]
    return lines
