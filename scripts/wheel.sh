#!/usr/bin/env bash
# The addon's wheel, the OCA way: `scripts/wheel.sh DIR` builds odoo-addon-crm_mail_sync into DIR
# with whool (pyproject.toml's build backend, installed in the virtualenv by
# requirements-test.txt: no download). whool names the distribution after the addon's
# directory and packages the files git tracks, so the last commit is cloned into a directory
# called crm_mail_sync first, whatever this clone is called.
source "$(dirname "$0")/env.sh"
ensure_venv
out="$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)"
work="$(mktemp -d)"
at_exit "rm -rf '$work'"
git clone -q "$REPO" "$work/crm_mail_sync"
"$PY" -m pip wheel -q --no-deps --no-build-isolation --no-index -w "$out" "$work/crm_mail_sync"
ls "$out"/odoo_addon_crm_mail_sync-*.whl
