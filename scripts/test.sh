#!/usr/bin/env bash
# The test command (README: `make test`). Runs, in order:
#   1. lint (ruff; pylint-odoo with the OCA's configuration);
#   2. the engine suite: plain pytest, no Odoo, against a real Dovecot and a real SMTP server,
#      and the scripts suite (scripts/tests: this set-up itself, the wheel);
#   3. the Odoo suites: the addon installed in a throwaway database of a real Odoo 19
#      (ODOO_SRC) on this machine's PostgreSQL, with its browser tours in Chromium.
# Prepares what it needs first (Debian packages, Odoo 19 fetched into the cache when
# ODOO_SRC has none, a private PostgreSQL when none answers, Python 3.12 virtualenv),
# idempotently.
# Exits non-zero when anything fails; its last line is "N passed, N failed, N skipped".
source "$(dirname "$0")/env.sh"

ensure_debian_packages
ensure_odoo || true
ensure_venv
cd "$REPO"
RESULTS="$REPO/.test-results"
rm -rf "$RESULTS" && mkdir -p "$RESULTS"
problems=()

say "Lint (ruff, and pylint-odoo with the OCA's configuration)"
if "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check . && bash scripts/pylint-odoo.sh; then
    echo "lint: clean"
else
    problems+=("lint")
fi

say "Engine suite (pytest; real Dovecot and aiosmtpd on 127.0.0.1)"
"$PY" -m pytest mailsync/tests --junitxml="$RESULTS/engine.xml" || true
read -r e_pass e_fail e_skip < <("$PY" scripts/report.py junit "$RESULTS/engine.xml")
[ "$e_fail" -eq 0 ] && [ "$e_pass" -gt 0 ] || problems+=("engine suite")

say "Scripts suite (pytest scripts/tests: fetching Odoo, the private PostgreSQL, the wheel)"
"$PY" -m pytest scripts/tests --junitxml="$RESULTS/scripts.xml" || true
read -r s_pass s_fail s_skip < <("$PY" scripts/report.py junit "$RESULTS/scripts.xml")
[ "$s_fail" -eq 0 ] && [ "$s_pass" -gt 0 ] || problems+=("scripts suite")

o_pass=0 o_fail=0 o_skip=0 odoo_note=""
say "Odoo suites (install in a fresh database, TransactionCase, HttpCase tours in Chromium)"
if ! have_odoo; then
    cat <<BANNER
################################################################################
##  SKIPPED: the Odoo suites (addon install, models, views, cron, chatter,
##  security and the Chromium browser tours) did NOT run:
##  no Odoo 19 at ODOO_SRC=$ODOO_SRC (no odoo-bin / addons/crm there), and
##  none could be fetched from $ODOO_REPO (see the paragraph above).
##  Check out Odoo 19 Community there (see README, "Install") and run again.
################################################################################
BANNER
    odoo_note="SKIPPED (no Odoo at $ODOO_SRC)"
else
    ensure_postgres
    db="crm_mail_sync_test_$$"
    data_dir="$(mktemp -d)"
    cleanup() { dropdb $(odoo_db_args | sed 's/--db_host=/-h /; s/--db_port=/-p /; s/--db_user=/-U /') --if-exists "$db" 2>/dev/null || true; rm -rf "$data_dir"; }
    at_exit cleanup
    echo "database $db, log in .test-results/odoo.log"
    # shellcheck disable=SC2046
    "$PY" "$ODOO_SRC/odoo-bin" $(odoo_db_args) -d "$db" \
        --addons-path="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$(addons_link_dir)" \
        --data-dir="$data_dir" --http-interface=127.0.0.1 --http-port="$(free_port)" \
        --workers=0 --max-cron-threads=0 --without-demo=True \
        -i crm_mail_sync --test-tags=/crm_mail_sync --stop-after-init --log-level=test \
        > "$RESULTS/odoo.log" 2>&1 || echo "odoo-bin exited with $?"
    read -r o_pass o_fail o_skip < <("$PY" scripts/report.py odoo "$RESULTS/odoo.log")
    [ "$o_fail" -eq 0 ] && [ "$o_skip" -eq 0 ] && [ "$o_pass" -gt 0 ] || problems+=("Odoo suites")
fi

say "Summary"
echo "engine suite: $e_pass passed, $e_fail failed, $e_skip skipped"
echo "scripts suite: $s_pass passed, $s_fail failed, $s_skip skipped"
echo "Odoo suites:  ${odoo_note:-$o_pass passed, $o_fail failed, $o_skip skipped}"
if [ ${#problems[@]} -gt 0 ]; then
    echo "FAILED: ${problems[*]}"
fi
echo "$((e_pass + s_pass + o_pass)) passed, $((e_fail + s_fail + o_fail)) failed, $((e_skip + s_skip + o_skip)) skipped"
[ ${#problems[@]} -eq 0 ]
