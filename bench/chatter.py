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
(``search_count``). The figure is the median of ``--repeat`` reads (ms) after
warm-up; the ratio is rule on / rule off (target <= 1.10).
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import add_odoo_arguments, odoo_env, prepare_database  # noqa: E402

THREAD = 5000
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


def measure(env, reader_id, targets, repeat, settings, rounds=5):
    """``{label: {case: {"ms", "shown", "count"}}}``: the median read time of
    each case under each rule setting (``{label: (active, domain)}``).
    Settings alternate in ``rounds`` rounds (each after a warm-up), so that the
    load of a shared machine weighs on each of them alike."""
    rule = env.ref("crm_mail_sync.mail_message_rule_crm_mail_interaction")
    times = {label: {case: [] for case in targets} for label in settings}
    results = {label: {} for label in settings}
    per_round = max(repeat // rounds, 1)
    for _round in range(rounds):
        for label, (active, domain) in settings.items():
            rule.write({"active": active, "domain_force": domain})
            env.flush_all()
            env.registry.clear_cache()
            user_env = env(user=reader_id)
            for case, target in targets.items():
                model, res_id = (target._name, target.id) if case == "c" else target
                for _ in range(2):  # warm-up: caches, plans
                    read_thread(user_env, model, res_id)
                    user_env.invalidate_all()
                for _ in range(per_round):
                    user_env.invalidate_all()
                    start = time.perf_counter()
                    shown, count = read_thread(user_env, model, res_id)
                    times[label][case].append((time.perf_counter() - start) * 1000)
                results[label][case] = {"shown": shown, "count": count}
    for label in settings:
        for case in targets:
            results[label][case]["ms"] = statistics.median(times[label][case])
    return results


def explain(env, reader_id, target):
    """EXPLAIN ANALYZE of the first page of a thread, as the reader."""
    model, res_id = target
    from odoo.models import BaseModel

    Message = env(user=reader_id)["mail.message"]
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
    parser.add_argument("--repeat", type=int, default=30)
    add_odoo_arguments(parser)
    parser.add_argument("--db", default="crm_mail_sync_bench_chatter")
    parser.add_argument("--reuse", action="store_true", help="keep the database of a previous run")
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
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
        rule = env.ref("crm_mail_sync.mail_message_rule_crm_mail_interaction")
        new_domain = rule.domain_force
        settings = {"off": (False, new_domain), "on": (True, new_domain), "old": (True, OLD_RULE)}
        print("measuring ...", file=sys.stderr)
        results = measure(env, reader_id, targets, args.repeat, settings)
        plans = {}
        for label, (active, domain) in settings.items():
            rule.write({"active": active, "domain_force": domain})
            env.flush_all()
            env.registry.clear_cache()
            plans[label] = explain(env, reader_id, targets["b"])
        cr.rollback()  # the rule as installed
    report = render(args, total, logged, results, plans)
    print(report)
    with open(args.output) as existing:
        text = existing.read()
    marker = "\n## Chatter cost"
    text = text.split(marker)[0].rstrip("\n") + "\n" + report
    with open(args.output, "w") as out:
        out.write(text)
    print(json.dumps(results), file=sys.stderr)


def render(args, total, logged, results, plans):
    names = {
        "a": "(a) 5,000-message chatter, no logged email",
        "b": "(b) 5,000-message chatter, a third logged emails, half of them visible",
        "c": "(c) Discuss channel history, 5,000 messages",
    }
    lines = [
        "",
        "## Chatter cost",
        "",
        f"`python bench/chatter.py --messages {args.messages}`: {total} messages in the database, {logged} of them"
        " chatter entries of logged emails. As a salesperson, the first page (30) and the count of a thread, median"
        f" of {args.repeat} reads, the settings alternating in 5 rounds; the addon's `mail.message` rule off"
        " (Odoo without it), on, and as it was before"
        " issue 13 (`any` subquery), same run, same data.",
        "",
        "| case | off (ms) | on (ms) | on/off | old rule (ms) | old/off | shown, count (on) |",
        "|---|---|---|---|---|---|---|",
    ]
    for case, name in names.items():
        off, on, old = results["off"][case], results["on"][case], results["old"][case]
        lines.append(
            f"| {name} | {off['ms']:.1f} | {on['ms']:.1f} | **{on['ms'] / off['ms']:.2f}** | {old['ms']:.1f} |"
            f" {old['ms'] / off['ms']:.2f} | {on['shown']}, {on['count']} |"
        )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines += [
        "",
        f"Target: on/off <= 1.10 for each case. Load average at the end of the run: {load}"
        f" ({os.cpu_count()} CPUs; reads of a few ms are noisy on a shared machine).",
        "",
    ]
    for label in ("on", "off", "old"):
        lines += [f"EXPLAIN ANALYZE of (b)'s query with the rules (all its messages), rule {label}:", ""]
        lines += ["```", *plans[label], "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
