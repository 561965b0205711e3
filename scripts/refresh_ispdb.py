"""Import Thunderbird's ISP database into data/ispdb.json.

Source: https://github.com/thunderbird/autoconfig (directory ``ispdb/``), licence
MPL-2.0 (kept in data/ispdb.LICENSE). Each ``ispdb/*.xml`` file is parsed with the
engine's safe parser (mailsync.autoconfig.parse_config); IMAP and SMTP entries are
kept, ranked, with their user name templates, authentication and documentation links.
Providers that offer POP3 and no IMAP are kept apart (``pop3_only``, with their POP3
and SMTP servers), so that detection answers them honestly ("POP3 only") rather than
"not found"; files with neither are listed under ``skipped``.

    python scripts/refresh_ispdb.py /path/to/autoconfig-checkout   # a work tree
    python scripts/refresh_ispdb.py /path/to/autoconfig.git         # a bare git directory (HEAD)

Run it from the addon root; it rewrites data/ispdb.json and prints what changed.
"""

import dataclasses
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mailsync.autoconfig import AutoconfigError, parse_config

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "ispdb.json")


def _files(source):
    """(name, bytes) of every ispdb/*.xml file, and the commit read."""
    if os.path.isdir(os.path.join(source, "ispdb")):
        names = sorted(os.listdir(os.path.join(source, "ispdb")))
        commit = subprocess.run(
            ["git", "-C", source, "rev-parse", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        for name in names:
            with open(os.path.join(source, "ispdb", name), "rb") as file:
                yield name, file.read(), commit
        return
    git = ["git", "--git-dir", source]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    listing = subprocess.run(
        [*git, "ls-tree", "--name-only", "HEAD", "ispdb/"], capture_output=True, text=True, check=True
    )
    for path in sorted(listing.stdout.split()):
        data = subprocess.run([*git, "show", f"HEAD:{path}"], capture_output=True, check=True).stdout
        yield os.path.basename(path), data, commit


def main(source):
    providers, pop3_only, skipped, commit = [], [], [], ""
    for name, data, read_commit in _files(source):
        commit = read_commit
        if not name.endswith(".xml"):
            continue
        try:
            config = parse_config(data, source="ispdb")
        except AutoconfigError as exc:
            skipped.append(f"{name}: {exc}")
            continue
        if not config.domains:
            config = config.__class__(**{**config.__dict__, "domains": (name[: -len(".xml")],)})
        if config.pop3_only:
            pop3_only.append(config.to_json())
            continue
        if not config.complete:
            skipped.append(f"{name}: no IMAP or no SMTP server")
            continue
        providers.append(dataclasses.replace(config, pop3=()).to_json())
    out = {
        "source": "https://github.com/thunderbird/autoconfig (ispdb/)",
        "commit": commit,
        "licence": "MPL-2.0 (see data/ispdb.LICENSE)",
        "generated_by": "scripts/refresh_ispdb.py",
        "skipped": skipped,
        "providers": providers,
        "pop3_only": pop3_only,
    }
    with open(OUT, "w", encoding="utf-8") as file:
        json.dump(out, file, ensure_ascii=False, indent=0, sort_keys=False)
        file.write("\n")
    domains = sum(len(p["domains"]) for p in providers)
    pop3_domains = sum(len(p["domains"]) for p in pop3_only)
    print(
        f"{len(providers)} providers, {domains} domains; {len(pop3_only)} POP3-only providers, "
        f"{pop3_domains} domains; {len(skipped)} files skipped:"
    )
    for line in skipped:
        print("  ", line)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
