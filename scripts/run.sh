#!/usr/bin/env bash
# The run command (README: `make run`): a demo database with the addon installed,
# a local demo mailbox (Dovecot with sample emails) and SMTP catcher, and Odoo.
# Ctrl-C stops everything. Settings: CRM_MAIL_SYNC_DB (default crm_mail_sync_demo),
# HTTP_PORT (8069), DEMO_IMAP_PORT (1143), DEMO_IMAPS_PORT (1993), DEMO_SMTP_PORT (1025).
source "$(dirname "$0")/env.sh"

ensure_debian_packages
ensure_odoo || exit 1
ensure_postgres
ensure_venv
db="${CRM_MAIL_SYNC_DB:-crm_mail_sync_demo}"
# The demo's encryption key for stored passwords, kept beside the venv so the demo
# database's secrets stay readable from one run to the next (production: see README).
if [ -z "${CRM_MAIL_SYNC_KEY:-}" ]; then
    key_file="$CACHE/demo-encryption.key"
    [ -s "$key_file" ] || (umask 077 && "$PY" -c "import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())" > "$key_file")
    CRM_MAIL_SYNC_KEY="$(cat "$key_file")"
    export CRM_MAIL_SYNC_KEY
fi
http_port="${HTTP_PORT:-8069}"

"$PY" "$REPO/scripts/demo_servers.py" --imap-port "${DEMO_IMAP_PORT:-1143}" \
    --imaps-port "${DEMO_IMAPS_PORT:-1993}" --smtp-port "${DEMO_SMTP_PORT:-1025}" &
demo_pid=$!
stop_demo() { kill -TERM "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true; }
at_exit stop_demo
sleep 2
if ! kill -0 "$demo_pid" 2>/dev/null; then
    echo "ERROR: the demo mail servers did not start (see above)." >&2
    exit 1
fi

cat <<EOM

================================================================================
 Odoo with CRM Mail Sync:  http://127.0.0.1:$http_port   (login admin, password admin)
 Database: $db (created and the addon installed on first run)
 The demo mailbox and SMTP catcher print their settings below. Ctrl-C stops all.
================================================================================

EOM
# -i installs the addon in a new database, with Odoo's demo data (a CRM with customers and
# opportunities, and the customers who write to the demo mailbox); -u brings an existing
# demo database up to date.
# shellcheck disable=SC2046
"$PY" "$ODOO_SRC/odoo-bin" $(odoo_db_args) -d "$db" --db-filter="^$db\$" \
    --addons-path="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$(addons_link_dir)" \
    --http-interface=127.0.0.1 --http-port="$http_port" -i crm_mail_sync -u crm_mail_sync --with-demo || true
