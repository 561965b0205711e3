#!/usr/bin/env bash
# pylint-odoo with the OCA's configuration (.pylintrc) on the whole addon: `make lint`,
# `make test` and the pre-commit hook run it. Exits non-zero on any message.
source "$(dirname "$0")/env.sh"
ensure_venv
# pylint-odoo names the addon after its directory: lint it as crm_mail_sync whatever the
# clone is called, with Odoo importable (when there is one) so that astroid knows its API.
cd "$(addons_link_dir)"
PYTHONPATH="$ODOO_SRC${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m pylint --rcfile="$REPO/.pylintrc" \
    --output-format=text crm_mail_sync
