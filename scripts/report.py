"""Turn a test run's output into "passed failed skipped" counts for scripts/test.sh.

    report.py junit FILE   pytest's JUnit XML
    report.py odoo FILE    the log of `odoo-bin --test-tags ... --stop-after-init`

For Odoo, a skipped test counts against the run (Odoo skips browser tours
silently when Chromium or websocket-client is missing: a skipped tour is not a
passing tour), and so does any WARNING, ERROR or CRITICAL line: the addon must
install and run without a warning in the log. Details go to stderr.
"""

import re
import sys
import xml.etree.ElementTree as ET

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (WARNING|ERROR|CRITICAL) ")
SKIPPED = re.compile(r"^\d{4}-\d\d-\d\d \S+ \d+ INFO \S+ \S+: skipped (.*)$")
TOTALS = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")


def junit(path):
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - our own pytest output
    except (OSError, ET.ParseError) as exc:
        print(f"no pytest report: {exc}", file=sys.stderr)
        return 0, 1, 0
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return total - failed - skipped, failed, skipped


def odoo(path):
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    problems = [line for line in lines if LOG_LINE.match(line)]
    skipped = [m.group(1) for line in lines if (m := SKIPPED.match(line))]
    totals = [m.groups() for line in lines if (m := TOTALS.search(line))]
    if not totals:
        print("Odoo did not report any test result; the end of its log:", file=sys.stderr)
        print("\n".join(lines[-60:]), file=sys.stderr)
        return 0, 1, 0
    failed, errors, run = map(int, totals[-1])
    for reason in skipped:
        print(f"SKIPPED (counts as a failure): {reason}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} WARNING/ERROR lines in the Odoo log:", file=sys.stderr)
        print("\n".join(problems[:80]), file=sys.stderr)
    if run == 0:
        print("Odoo ran no test.", file=sys.stderr)
    bad = failed + errors
    if not bad and (problems or run == 0):
        bad = max(len(problems), 1)
    return max(run - failed - errors - len(skipped), 0), bad, len(skipped)


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    print(*{"junit": junit, "odoo": odoo}[kind](path))
