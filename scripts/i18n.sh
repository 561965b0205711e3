#!/usr/bin/env bash
# `make i18n`: export the addon's translatable terms from a real Odoo into
# i18n/crm_mail_sync.pot, and merge them into i18n/fr.po and i18n/es.po
# (existing translations are kept; new terms arrive untranslated, which the
# Odoo suite's translation test then reports).
source "$(dirname "$0")/env.sh"

have_odoo || { echo "ERROR: no Odoo 19 at ODOO_SRC=$ODOO_SRC" >&2; exit 1; }
command -v msgmerge >/dev/null || { echo "ERROR: msgmerge missing: apt-get install gettext" >&2; exit 1; }
ensure_venv
db="crm_mail_sync_i18n_$$"
conf="$(mktemp)"
trap 'dropdb $(odoo_db_args | sed "s/--db_host=/-h /; s/--db_port=/-p /; s/--db_user=/-U /") --if-exists "$db"; rm -f "$conf"' EXIT
# shellcheck disable=SC2046
"$PY" "$ODOO_SRC/odoo-bin" $(odoo_db_args) -d "$db" --stop-after-init --without-demo=True \
    --addons-path="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$(addons_link_dir)" -i crm_mail_sync --log-level=warn
cat > "$conf" <<CONF
[options]
addons_path = $ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$(addons_link_dir)
db_host = ${PGHOST:-127.0.0.1}
db_port = ${PGPORT:-5432}
db_user = ${PGUSER:-$(id -un)}
CONF
"$PY" "$ODOO_SRC/odoo-bin" i18n export -c "$conf" -d "$db" crm_mail_sync
for lang in fr es; do
    po="$REPO/i18n/$lang.po"
    if [ -f "$po" ]; then
        msgmerge --quiet --update --backup=none --no-fuzzy-matching "$po" "$REPO/i18n/crm_mail_sync.pot"
        msgattrib --no-obsolete -o "$po" "$po"
    else
        sed "s/^\"Language: \\\\n\"/\"Language: $lang\\\\n\"/" "$REPO/i18n/crm_mail_sync.pot" > "$po"
    fi
done
echo "i18n/crm_mail_sync.pot exported; fr.po and es.po merged."
