#!/usr/bin/env bash
# Run some of the Odoo suites in a throwaway database, for development:
#   scripts/odoo-tests.sh                          every test of the addon
#   scripts/odoo-tests.sh /crm_mail_sync:TestMailboxSync   one class (Odoo's --test-tags)
#   scripts/odoo-tests.sh /crm_mail_sync:TestMailboxSync.test_the_cron_syncs_every_connected_mailbox
#   scripts/odoo-tests.sh crm_mail_sync_tour              one kind: the browser tours
#   scripts/odoo-tests.sh crm_mail_sync_imap              one kind: the classes that need Dovecot
# Prints Odoo's log to .test-results/odoo-dev.log and the pass/fail counts.
source "$(dirname "$0")/env.sh"
ensure_odoo || exit 1
ensure_postgres
ensure_venv
tags="${1:-/crm_mail_sync}"
db="crm_mail_sync_dev_$$"
data_dir="$(mktemp -d)"
mkdir -p "$REPO/.test-results"
log="$REPO/.test-results/odoo-dev.log"
at_exit 'dropdb $(odoo_db_args | sed "s/--db_host=/-h /; s/--db_port=/-p /; s/--db_user=/-U /") --if-exists "$db" 2>/dev/null; rm -rf "$data_dir"'
# shellcheck disable=SC2046
"$PY" "$ODOO_SRC/odoo-bin" $(odoo_db_args) -d "$db" \
    --addons-path="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$(addons_link_dir)" \
    --data-dir="$data_dir" --http-interface=127.0.0.1 --http-port="$(free_port)" \
    --workers=0 --max-cron-threads=0 --without-demo=True \
    -i crm_mail_sync --test-tags="$tags" --stop-after-init --log-level=test > "$log" 2>&1 || true
grep -E "^(FAIL|ERROR):|ERROR crm_mail_sync|WARNING" "$log" | head -40
read -r passed failed skipped < <("$PY" "$REPO/scripts/report.py" odoo "$log")
echo "$passed passed, $failed failed, $skipped skipped (log: $log)"
