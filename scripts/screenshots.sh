#!/usr/bin/env bash
# `make screenshots`: the Apps page's and README's screenshots (static/description/*.png),
# taken in headless Chromium from a throwaway demo database like `make run`'s, dropped after.
# See scripts/screenshots.py. Settings: OUT (default static/description).
source "$(dirname "$0")/env.sh"

ensure_debian_packages
ensure_odoo || exit 1
ensure_postgres
ensure_venv
db="crm_mail_sync_screenshots_$$"
at_exit 'dropdb $(odoo_db_args | sed "s/--db_host=/-h /; s/--db_port=/-p /; s/--db_user=/-U /") --if-exists "$db" 2>/dev/null'
db_args=()
for arg in $(odoo_db_args); do db_args+=("--db-arg=$arg"); done
"$PY" "$REPO/scripts/screenshots.py" --odoo-bin "$ODOO_SRC/odoo-bin" \
    --addons-path="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$(addons_link_dir)" \
    --db "$db" "${db_args[@]}" --out "${OUT:-$REPO/static/description}"
