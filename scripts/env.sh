# Shared by scripts/test.sh and scripts/run.sh: sourced, not run.
# Prepares, idempotently, what the addon's tests and demo need on this machine:
# Debian packages, and a Python 3.12 virtualenv with Odoo's and our requirements.
# It does not fetch, build or install Odoo itself: Odoo 19 is expected at ODOO_SRC.

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ODOO_SRC="${ODOO_SRC:-/opt/odoo19}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/crm_mail_sync"
VENV="${CRM_MAIL_SYNC_VENV:-$CACHE/venv-py3.12}"
PY="$VENV/bin/python"

# Debian packages: Dovecot for the IMAP tests and demo, Chromium for the
# browser tours, and the headers Odoo's Python requirements compile against.
DEB_PACKAGES=(dovecot-imapd chromium libldap2-dev libsasl2-dev libpq-dev)

say() { printf '\n=== %s\n' "$*"; }

have_odoo() { [ -f "$ODOO_SRC/odoo-bin" ] && [ -d "$ODOO_SRC/addons/crm" ]; }

ensure_debian_packages() {
    local missing=()
    for pkg in "${DEB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "Installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The package starts a system Dovecot where systemd runs; our tests start
    # their own private ones and do not need it.
}

find_python312() {
    local candidate
    for candidate in "${PYTHON312:-}" python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 \
        "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
        # pyenv's shim exists even where 3.12 is not the selected version: run it to be sure.
        [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 \
            && { command -v "$candidate"; return 0; }
    done
    echo "ERROR: Python 3.12 is needed (Odoo 19's pins for 3.11 require an old cryptography)." >&2
    echo "       Install it (e.g. with pyenv) or point PYTHON312 at it." >&2
    return 1
}

ensure_venv() {
    local requirements=("$REPO/requirements-test.txt")
    have_odoo && requirements+=("$ODOO_SRC/requirements.txt")
    local stamp
    stamp="$(cat "${requirements[@]}" "$REPO/requirements.txt" | sha256sum | cut -c1-16)"
    if [ -x "$PY" ] && [ "$(cat "$VENV/.stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    say "Preparing the Python 3.12 virtualenv at $VENV"
    [ -x "$PY" ] || "$(find_python312)" -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip wheel setuptools
    local args=()
    for r in "${requirements[@]}"; do args+=(-r "$r"); done
    "$PY" -m pip install -q "${args[@]}"
    echo "$stamp" > "$VENV/.stamp"
}

# An addons directory that holds this repository under the addon's own name,
# whatever the clone's directory is called.
addons_link_dir() {
    local dir="$CACHE/addons-link-$(echo "$REPO" | sha256sum | cut -c1-12)"
    mkdir -p "$dir"
    ln -sfn "$REPO" "$dir/crm_mail_sync"
    echo "$dir"
}

odoo_db_args() {
    echo --db_host="${PGHOST:-127.0.0.1}" --db_port="${PGPORT:-5432}" --db_user="${PGUSER:-$(id -un)}"
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
