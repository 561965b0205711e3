"""What logged email costs the rest of Odoo's chatter (issue 13, part of `make bench`).

    python bench/chatter.py --messages 100000

Prepares an Odoo 19 database with the addon and, in SQL, ``--messages``
chatter messages (default 100,000): three 5,000-message threads and filler on
other contacts, with a tenth of the filler being logged emails (so that the
database holds many logged emails, as a team using the addon for a year does).
Then measures, as a salesperson, with the addon's ``mail.message`` record rule
on, as it was before issue 13 (``old``), and off (what Odoo costs without the
addon), in the same run and on the same data:

  a. a contact's chatter of 5,000 messages, none of them a logged email;
  b. a contact's chatter of 5,000 messages, a third logged emails, of which the
     reader may see half (shared with their team; the rest private to another
     salesperson);
  c. Discuss: the history of a channel of 5,000 messages.

Each read is what the web client asks when it opens a thread: the first page
(30 messages, ``mail.message._message_fetch``) and the number of messages
(``search_count``). The settings alternate read by read (``--repeat`` reads
of each case and setting, after a warm-up); the figures are the median and
quartiles (ms), and the ratio of the medians on / off (target <= 1.10) with
its 95 % bootstrap interval. Since a read of a few ms is noisy on a shared
machine, the bench also counts what one read does, which the load does not
change: its SQL queries and its Python function calls (cProfile).
"""

import argparse
import cProfile
import itertools
import json
import os
import pstats
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import add_odoo_arguments, odoo_env, prepare_database, write_section  # noqa: E402

THREAD = 5000
#: This bench's section of bench/RESULTS.md (the rest of the file is kept).
BEGIN, END = "<!-- chatter bench: begin -->", "<!-- chatter bench: end -->"
OLD_RULE = """[
    '|', ('crm_mail_interaction_id', '=', False),
    ('crm_mail_interaction_id', 'any', crm_mail_sharing_domain(company_ids)),
]"""


def seed(env, total):
    """Users, team, the three threads and the filler; returns the ids to read."""
    cr = env.cr
    salesman = env.ref("sales_team.group_sale_salesman")
    Users = env["res.users"].with_context(no_reset_password=True)
    owner = Users.create({"name": "Owner", "login": "bench_owner", "group_ids": [(6, 0, [salesman.id])]})
    reader = Users.create({"name": "Reader", "login": "bench_reader", "group_ids": [(6, 0, [salesman.id])]})
    other = Users.create({"name": "Other", "login": "bench_other", "group_ids": [(6, 0, [salesman.id])]})
    env["crm.team"].create({"name": "Bench team", "member_ids": [(6, 0, [owner.id, reader.id])]})
    env["crm.team"].create({"name": "Other team", "member_ids": [(6, 0, [other.id])]})
    Partner = env["res.partner"]
    plain, logged = Partner.create([{"name": "Plain chatter"}, {"name": "Logged chatter"}])
    channel = env["discuss.channel"].create({"name": "bench", "channel_type": "channel"})
    channel._add_members(users=reader)
    note = env.ref("mail.mt_note").id
    comment = env.ref("mail.mt_comment").id
    fillers = Partner.create([{"name": f"Filler {n}"} for n in range(200)]).ids
    env.flush_all()

    def messages(model, res_id, count, subtype, kind="comment"):
        cr.execute(
            """INSERT INTO mail_message (model, res_id, message_type, subtype_id, body, author_id, date,
                                         is_internal, create_uid, write_uid, create_date, write_date)
               SELECT %s, %s, %s, %s, '<p>Message ' || n || '</p>', %s, now() - n * interval '1 minute',
                      false, 1, 1, now(), now()
                 FROM generate_series(1, %s) AS n""",
            (model, res_id, kind, subtype, owner.partner_id.id, count),
        )

    def emails(res_id, count, owner_id, sharing, key):
        """``count`` logged emails, each with its chatter entry on the contact."""
        cr.execute(
            """WITH i AS (
                 INSERT INTO crm_mail_interaction (subject, message_key, company_id, sharing, sole_owner_id,
                                                   direction, date, body, has_remote_content,
                                                   create_uid, write_uid, create_date, write_date)
                 SELECT 'Email ' || n, %(key)s || n, %(company)s, %(sharing)s, %(owner)s, 'received',
                        now() - n * interval '1 minute', '<p>Email</p>', false, 1, 1, now(), now()
                   FROM generate_series(1, %(count)s) AS n
                 RETURNING id, date),
               s AS (
                 INSERT INTO crm_mail_interaction_share (interaction_id, owner_id, sharing, direction, company_id,
                                                         create_uid, write_uid, create_date, write_date)
                 SELECT i.id, %(owner)s, %(sharing)s, 'received', %(company)s, 1, 1, now(), now() FROM i)
               INSERT INTO mail_message (model, res_id, message_type, subtype_id, body, date, is_internal,
                                         crm_mail_interaction_id, crm_mail_owner_id, crm_mail_sharing,
                                         crm_mail_company_id, create_uid, write_uid, create_date, write_date)
               SELECT 'res.partner', %(res_id)s, 'email', %(note)s, '<p>Email</p>', i.date, true, i.id,
                      %(owner)s, %(sharing)s, %(company)s, 1, 1, now(), now() FROM i""",
            {
                "key": key,
                "owner": owner_id,
                "company": env.company.id,
                "sharing": sharing,
                "count": count,
                "res_id": res_id,
                "note": note,
            },
        )

    messages("res.partner", plain.id, THREAD, note)
    third = THREAD // 3
    messages("res.partner", logged.id, THREAD - third, note)
    emails(logged.id, third // 2, owner.id, "team", "b-team-")
    emails(logged.id, third - third // 2, other.id, "private", "b-private-")
    messages("discuss.channel", channel.id, THREAD, comment)
    filler = max(total - 3 * THREAD, 0)
    per_partner = filler // len(fillers)
    for n, partner_id in enumerate(fillers):
        emails(partner_id, per_partner // 10, owner.id if n % 2 else other.id, ["team", "private"][n % 2], f"f{n}-")
        messages("res.partner", partner_id, per_partner - per_partner // 10, note)
    cr.execute(
        "ANALYZE mail_message; ANALYZE crm_mail_interaction; ANALYZE crm_mail_interaction_share; "
        "ANALYZE crm_team_member"
    )
    env.invalidate_all()
    return reader.id, {"a": ("res.partner", plain.id), "b": ("res.partner", logged.id), "c": channel}


def read_thread(env, model, res_id):
    """What the web client asks when it opens a thread: first page and count."""
    Message = env["mail.message"]
    domain = [("model", "=", model), ("res_id", "=", res_id), ("message_type", "!=", "user_notification")]
    page = Message._message_fetch(domain, limit=30)["messages"]
    count = Message.search_count(domain)
    return len(page), count


#: The context key that selects, per read, which rules apply (see ``install_settings``).
SETTING_KEY = "crm_mail_bench_rules"


def install_settings(env):
    """Makes the setting a property of each read rather than of the database:
    ``off`` (Odoo without the addon's ``mail.message`` rule), ``on`` (the rule
    as installed) and ``old`` (the rule as it was before issue 13, created
    here, in the bench's transaction). ``ir.rule`` picks the rules of a read
    from the context key ``SETTING_KEY``, which also keys Odoo's cache of rule
    domains: each setting keeps its own warm cache, so settings can alternate
    read by read (writing a rule's ``active`` clears every cache, which would
    make every read after a switch a cold one). Returns the labels."""
    new = env.ref("crm_mail_sync.mail_message_rule_crm_mail_interaction")
    old = new.copy({"name": "bench: the rule before issue 13", "domain_force": OLD_RULE})
    env.flush_all()
    IrRule = type(env["ir.rule"])
    keys, get_rules = IrRule._compute_domain_keys, IrRule._get_rules
    dropped = {"off": new | old, "on": old, "old": new}

    def _compute_domain_keys(self):
        return [*keys(self), SETTING_KEY]

    def _get_rules(self, model_name, mode="read"):
        rules = get_rules(self, model_name, mode=mode)
        return rules - dropped[self.env.context.get(SETTING_KEY, "on")].with_env(rules.env)

    IrRule._compute_domain_keys = _compute_domain_keys
    IrRule._get_rules = _get_rules
    env.registry.clear_cache()
    return tuple(dropped)


def target_of(case, target):
    return (target._name, target.id) if case == "c" else target


def measure(env, reader_id, targets, repeat, labels, warmup=3):
    """``{label: {case: {"ms": [...], "shown", "count"}}}``: ``repeat`` timed
    reads (ms) of each case under each setting. The settings alternate read
    by read, in each of their orders in turn (off, on, old; off, old, on;
    ...), so that the load of a shared machine, and what a read leaves in the
    CPU's caches for the next one, weigh on each of them alike; each read
    starts from an empty record cache (Odoo's caches of rules and access
    rights stay warm, as in a worker serving requests)."""
    envs = {label: env(user=reader_id, context={SETTING_KEY: label}) for label in labels}
    results = {label: {case: {"ms": []} for case in targets} for label in labels}
    for case, target in targets.items():
        model, res_id = target_of(case, target)
        for label in labels:
            for _ in range(warmup):
                envs[label].invalidate_all()
                shown, count = read_thread(envs[label], model, res_id)
            results[label][case].update(shown=shown, count=count)
    orders = list(itertools.permutations(labels))
    for n in range(repeat):
        for case, target in targets.items():
            model, res_id = target_of(case, target)
            for label in orders[n % len(orders)]:
                user_env = envs[label]
                user_env.invalidate_all()
                start = time.perf_counter()
                read_thread(user_env, model, res_id)
                results[label][case]["ms"].append((time.perf_counter() - start) * 1000)
    return results


def work(env, reader_id, targets, labels):
    """``{label: {case: {"queries", "calls", "page_plan", "sql_ms"}}}``: what
    one read does, in figures that do not depend on the machine's load: the
    SQL queries it sends and the Python function calls it makes (cProfile),
    after a warm-up; with the first page's plan and PostgreSQL's own time for
    the count (``page_plan``, ``count_sql_ms``)."""
    work = {label: {} for label in labels}
    for label in labels:
        user_env = env(user=reader_id, context={SETTING_KEY: label})
        for case, target in targets.items():
            model, res_id = target_of(case, target)
            user_env.invalidate_all()
            read_thread(user_env, model, res_id)
            user_env.invalidate_all()
            before = env.cr.sql_log_count
            read_thread(user_env, model, res_id)
            queries = env.cr.sql_log_count - before
            user_env.invalidate_all()
            profile = cProfile.Profile()
            profile.enable()
            read_thread(user_env, model, res_id)
            profile.disable()
            work[label][case] = {
                "queries": queries,
                "calls": pstats.Stats(profile).total_calls,
                "page_plan": page_plan(user_env, model, res_id),
                "sql_ms": count_sql_ms(user_env, model, res_id),
            }
    return work


def count_sql_ms(user_env, model, res_id, runs=20):
    """PostgreSQL's own time (planning + execution, ms, the fastest of
    ``runs``) for the query that counts a thread's messages: the rules' query
    of ``mail.message``'s ``_search``, which reads every message of the thread.
    The fastest run is the one the machine's load disturbed least."""
    from odoo.models import BaseModel
    from odoo.tools import SQL

    domain = [("model", "=", model), ("res_id", "=", res_id), ("message_type", "!=", "user_notification")]
    sql = SQL(
        "EXPLAIN (ANALYZE, SUMMARY ON, TIMING OFF) %s", BaseModel._search(user_env["mail.message"], domain).select()
    )
    best = None
    for _ in range(runs):
        user_env.cr.execute(sql)
        lines = [row[0] for row in user_env.cr.fetchall()]
        total = sum(
            float(line.split(":")[1].split()[0]) for line in lines if line.startswith(("Planning", "Execution"))
        )
        best = total if best is None else min(best, total)
    return best


def page_plan(user_env, model, res_id):
    """How PostgreSQL reads the first page of a thread (the rules' query of
    ``mail.message``'s ``_search``): its scan node, e.g. ``Index Scan Backward
    using mail_message_model_res_id_id_idx``. A different plan off and on
    weighs more than the rule itself."""
    from odoo.models import BaseModel
    from odoo.tools import SQL

    domain = [("model", "=", model), ("res_id", "=", res_id), ("message_type", "!=", "user_notification")]
    query = BaseModel._search(user_env["mail.message"], domain, limit=30, order="id DESC")
    user_env.cr.execute(SQL("EXPLAIN (COSTS OFF) %s", query.select()))
    nodes = [row[0].strip(" ->") for row in user_env.cr.fetchall()]
    return next((node.split(" on mail_message")[0] for node in nodes if "Scan" in node), nodes[0])


def quartiles(values):
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def ratio_interval(on, off, resamples=2000, seed=13):
    """The 95 % bootstrap interval of median(on) / median(off), each sample
    resampled on its own (percentile method, a fixed seed: the same figures
    give the same interval)."""
    draw = random.Random(seed).choices
    ratios = sorted(
        statistics.median(draw(on, k=len(on))) / statistics.median(draw(off, k=len(off))) for _ in range(resamples)
    )
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def explain(env, reader_id, target, label):
    """EXPLAIN ANALYZE of the first page of a thread, as the reader, under
    setting ``label``."""
    model, res_id = target
    from odoo.models import BaseModel

    Message = env(user=reader_id, context={SETTING_KEY: label})["mail.message"]
    domain = [("model", "=", model), ("res_id", "=", res_id)]
    # The query mail.message's _search runs with the record rules (it then
    # filters by document access in Python): BaseModel's, not the override.
    for _ in range(3):  # warm plans and catalog caches
        env.cr.execute(BaseModel._search(Message, domain).select())
    sql = BaseModel._search(Message, domain).select()
    from odoo.tools import SQL

    env.cr.execute(SQL("EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) %s", sql))
    return [row[0] for row in env.cr.fetchall()]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=300, help="timed reads of each case and setting")
    add_odoo_arguments(parser)
    parser.add_argument("--db", default="crm_mail_sync_bench_chatter")
    parser.add_argument("--reuse", action="store_true", help="keep the database of a previous run")
    parser.add_argument(
        "--output", default=os.path.join(HERE, "RESULTS.md"), help="its section (between markers) is replaced"
    )
    args = parser.parse_args()

    if not args.reuse:
        print("Preparing the Odoo database ...", file=sys.stderr)
        prepare_database(args, 1000)
    odoo, registry = odoo_env(args)
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        reader_id = env["res.users"].search([("login", "=", "bench_reader")]).id
        if not reader_id:
            print(f"Seeding {args.messages} messages ...", file=sys.stderr)
            reader_id, targets = seed(env, args.messages)
            cr.commit()
        else:
            Partner = env["res.partner"]
            targets = {
                "a": ("res.partner", Partner.search([("name", "=", "Plain chatter")]).id),
                "b": ("res.partner", Partner.search([("name", "=", "Logged chatter")]).id),
                "c": env["discuss.channel"].search([("name", "=", "bench")]),
            }
        cr.execute("SELECT count(*), count(crm_mail_interaction_id) FROM mail_message")
        total, logged = cr.fetchone()
        labels = install_settings(env)
        print(f"measuring ({args.repeat} reads of each case and setting) ...", file=sys.stderr)
        results = measure(env, reader_id, targets, args.repeat, labels)
        done = work(env, reader_id, targets, labels)
        plans = {label: explain(env, reader_id, targets["b"], label) for label in labels}
        cr.rollback()  # the bench's rule goes
    report = render(args, total, logged, results, done, plans)
    print(report)
    write_section(args.output, report, BEGIN, END)
    medians = {
        label: {case: statistics.median(r["ms"]) for case, r in cases.items()} for label, cases in results.items()
    }
    print(json.dumps({"median_ms": medians, "work": done}), file=sys.stderr)


def render(args, total, logged, results, work, plans):
    names = {
        "a": "(a) 5,000-message chatter, no logged email",
        "b": "(b) 5,000-message chatter, a third logged emails, half of them visible",
        "c": "(c) Discuss channel history, 5,000 messages",
    }
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        BEGIN,
        "## Chatter cost",
        "",
        f"Run on {now}: `python bench/chatter.py --messages {args.messages} --repeat {args.repeat}`: {total} messages"
        f" in the database, {logged} of them chatter entries of logged emails. As a salesperson, the first page (30)"
        " and the count of a thread (`_message_fetch` and `search_count`), with the addon's `mail.message` rule"
        " **off** (Odoo without it), **on** (as installed) and **old** (as before issue 13: an `any` subquery), same"
        f" run, same data; {args.repeat} reads of each case and setting, the settings alternating read by read.",
        "",
        "Time of a read: median (interquartile range) in ms; the ratio of the medians with its 95 % bootstrap"
        " interval.",
        "",
        "| case | off (ms) | on (ms) | **on/off** | old (ms) | old/off | shown, count (on) |",
        "|---|---|---|---|---|---|---|",
    ]
    for case, name in names.items():
        row = [name]
        medians = {}
        for label in ("off", "on", "old"):
            q1, medians[label], q3 = quartiles(results[label][case]["ms"])
            row.append(f"{medians[label]:.2f} ({q1:.2f}-{q3:.2f})")
            if label != "off":
                low, high = ratio_interval(results[label][case]["ms"], results["off"][case]["ms"])
                ratio = f"{medians[label] / medians['off']:.2f} [{low:.2f}-{high:.2f}]"
                row.append(f"**{ratio}**" if label == "on" else ratio)
        on = results["on"][case]
        row.append(f"{on['shown']}, {on['count']}")
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "What one read does, off / on / old, in figures the machine's load does not change: the SQL queries it sends"
        " and its Python function calls (cProfile); and PostgreSQL's own time (planning and execution, the fastest of"
        " 20) for the query of the count, which reads all the thread's messages (the first page's query reads 30).",
        "",
        "| case | SQL queries | Python calls | calls on/off | count's SQL in PostgreSQL (ms) | first page's plan,"
        " off / on |",
        "|---|---|---|---|---|---|",
    ]
    for case, name in names.items():
        queries = " / ".join(str(work[label][case]["queries"]) for label in ("off", "on", "old"))
        calls = " / ".join(f"{work[label][case]['calls']:,}" for label in ("off", "on", "old"))
        ratio = work["on"][case]["calls"] / work["off"][case]["calls"]
        page = " / ".join(f"`{work[label][case]['page_plan']}`" for label in ("off", "on"))
        sql = " / ".join(f"{work[label][case]['sql_ms']:.2f}" for label in ("off", "on", "old"))
        lines.append(f"| {name} | {queries} | {calls} | {ratio:.3f} | {sql} | {page} |")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines += [
        "",
        f"Target: on/off <= 1.10 for each case. Load average (1, 5, 15 min) at the end of the run: {load}"
        f" ({os.cpu_count()} CPUs shared with other work: compare figures of one run).",
        "",
    ]
    for label in ("on", "off", "old"):
        lines += [f"EXPLAIN ANALYZE of (b)'s query with the rules (all its messages), rule {label}:", ""]
        lines += ["```", *plans[label], "```", ""]
    lines.append(END)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
