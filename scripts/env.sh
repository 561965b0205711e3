# Shared by scripts/test.sh and scripts/run.sh: sourced, not run.
# Prepares, idempotently, what the addon's tests and demo need on this machine:
# Debian packages, Odoo 19 (ODOO_SRC, else a shallow clone in the cache, see ensure_odoo),
# PostgreSQL (the configured one, else a private cluster, see ensure_postgres), and a
# Python 3.12 virtualenv with Odoo's and our requirements.

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ODOO_SRC="${ODOO_SRC:-/opt/odoo19}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/crm_mail_sync"
VENV="${CRM_MAIL_SYNC_VENV:-$CACHE/venv-py3.12}"
PY="$VENV/bin/python"

# Debian packages: git to fetch Odoo, Dovecot for the IMAP tests and demo, Chromium for the
# browser tours, and the headers Odoo's Python requirements compile against.
DEB_PACKAGES=(git dovecot-imapd chromium libldap2-dev libsasl2-dev libpq-dev)

say() { printf '\n=== %s\n' "$*"; }

# Commands run when the calling script exits, last registered first (the private
# PostgreSQL, started first, stops last). Scripts register with at_exit, not trap.
EXIT_HOOKS=()
at_exit() { EXIT_HOOKS+=("$1"); }
run_exit_hooks() {
    local i
    for ((i = ${#EXIT_HOOKS[@]} - 1; i >= 0; i--)); do eval "${EXIT_HOOKS[$i]}" || true; done
}
trap run_exit_hooks EXIT

have_odoo() { [ -f "$ODOO_SRC/odoo-bin" ] && [ -d "$ODOO_SRC/addons/crm" ]; }

ensure_debian_packages() {
    local missing=()
    for pkg in "${DEB_PACKAGES[@]}" "$@"; do
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

# --- Odoo: ODOO_SRC, else a shallow clone of the pinned commit in the cache ---------------

pin_value() { sed -n "s/^$1=//p" "$REPO/scripts/odoo.pin" | head -1; }
ODOO_REPO="${ODOO_REPO:-$(pin_value repo)}"
ODOO_BRANCH="${ODOO_BRANCH:-$(pin_value branch)}"
ODOO_COMMIT="${ODOO_COMMIT-$(pin_value commit)}"
ODOO_FETCH_ERROR=""

# Makes ODOO_SRC point at an Odoo 19: ODOO_SRC itself when it holds one, else the clone in
# the cache (made once: `git fetch --depth 1` of ODOO_COMMIT, or of ODOO_BRANCH's head when
# no commit is pinned). Returns 1, with the reason in ODOO_FETCH_ERROR and a paragraph on
# stderr, when neither is there and the repository cannot be reached.
ensure_odoo() {
    have_odoo && return 0
    local wanted="$ODOO_SRC"
    local dir="$CACHE/odoo-$ODOO_BRANCH${ODOO_COMMIT:+-${ODOO_COMMIT:0:12}}"
    ODOO_SRC="$dir"
    export ODOO_SRC
    have_odoo && return 0
    say "No Odoo at $wanted: fetching Odoo $ODOO_BRANCH${ODOO_COMMIT:+ at $ODOO_COMMIT} from $ODOO_REPO into $dir"
    local tmp="$dir.partial"
    rm -rf "$tmp" && mkdir -p "$tmp"
    local log="$CACHE/odoo-fetch.log"
    if git -C "$tmp" init -q && git -C "$tmp" remote add origin "$ODOO_REPO" \
        && GIT_TERMINAL_PROMPT=0 git -C "$tmp" fetch -q --depth 1 origin "${ODOO_COMMIT:-refs/heads/$ODOO_BRANCH}" > "$log" 2>&1 \
        && git -C "$tmp" -c advice.detachedHead=false checkout -q FETCH_HEAD >> "$log" 2>&1 \
        && [ -f "$tmp/odoo-bin" ] && [ -d "$tmp/addons/crm" ]; then
        rm -rf "$dir" && mv "$tmp" "$dir"
        echo "Odoo $(git -C "$dir" rev-parse HEAD) is at $dir (reused by the next runs)."
        return 0
    fi
    rm -rf "$tmp"
    export ODOO_SRC="$wanted"
    ODOO_FETCH_ERROR="$(grep -m1 -iE '^(fatal|error)' "$log" 2>/dev/null || true)"
    cat >&2 <<MSG

Odoo 19 is needed and was not found: ODOO_SRC=$wanted has no odoo-bin and addons/crm, and
fetching Odoo $ODOO_BRANCH from $ODOO_REPO failed (${ODOO_FETCH_ERROR:-no Odoo in what was fetched}; is
the network reachable?). Either check out Odoo 19 Community yourself, e.g.
\`git clone --depth 1 -b 19.0 https://github.com/odoo/odoo.git /opt/odoo19\`, and run again
with ODOO_SRC=/opt/odoo19 (the default), or point ODOO_REPO at a reachable copy of Odoo's
repository (a mirror or a local clone).
MSG
    return 1
}

# --- PostgreSQL: the configured server, else a private cluster ----------------------------

PG_PRIVATE_PORT="${CRM_MAIL_SYNC_PG_PORT:-54329}"

# Whether something listens at PGHOST:PGPORT (a host, or a socket directory as libpq takes it).
pg_answers() {
    local host="${PGHOST:-127.0.0.1}" port="${PGPORT:-5432}"
    if [ "${host:0:1}" = "/" ]; then
        [ -S "$host/.s.PGSQL.$port" ]
    else
        timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
    fi
}

find_pg_bin() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
    done
    return 1
}

# When nothing answers at PGHOST:PGPORT (default 127.0.0.1:5432), starts a private cluster
# of Debian's PostgreSQL (installing the `postgresql` package if needed): data in the cache
# (as root, in /var/tmp, since PostgreSQL refuses to run as root and runs as `postgres`),
# its own port (CRM_MAIL_SYNC_PG_PORT, 54329) on 127.0.0.1 and its own socket directory,
# the role PGUSER (default: your user) as superuser, trust authentication on 127.0.0.1 only.
# Exports PGHOST/PGPORT/PGUSER so Odoo, createdb and dropdb use it, and stops it when the
# calling script exits.
ensure_postgres() {
    pg_answers && return 0
    say "No PostgreSQL answers at ${PGHOST:-127.0.0.1}:${PGPORT:-5432}: starting a private cluster on 127.0.0.1:$PG_PRIVATE_PORT"
    PG_BIN="$(find_pg_bin)" || { ensure_debian_packages postgresql && PG_BIN="$(find_pg_bin)"; } || {
        echo "ERROR: no PostgreSQL server binaries (Debian package postgresql) could be installed." >&2
        return 1
    }
    local role="${PGUSER:-$(id -un)}" as=() root
    if [ "$(id -u)" -eq 0 ]; then
        root="${CRM_MAIL_SYNC_PG_DIR:-/var/tmp/crm_mail_sync-postgres-$(echo "$CACHE" | sha256sum | cut -c1-12)}"
        as=(runuser -u postgres --)
        mkdir -p "$root" && chown postgres: "$root" && chmod 700 "$root"
    else
        root="${CRM_MAIL_SYNC_PG_DIR:-$CACHE/postgres}"
        mkdir -p "$root"
    fi
    local data="$root/data" sock="$root/socket"
    "${as[@]}" mkdir -p "$sock"
    if [ ! -f "$data/PG_VERSION" ]; then
        "${as[@]}" "$PG_BIN/initdb" -D "$data" -U "$role" --auth=trust -E UTF8 --locale=C.UTF-8 \
            > "$root.initdb.log" 2>&1 || { cat "$root.initdb.log" >&2; return 1; }
    fi
    "${as[@]}" "$PG_BIN/pg_ctl" -D "$data" status > /dev/null 2>&1 \
        || "${as[@]}" "$PG_BIN/pg_ctl" -D "$data" -l "$root/postgres.log" -w -t 60 \
        -o "-p $PG_PRIVATE_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='$sock' -c fsync=off" \
        start > /dev/null || { tail -n 20 "$root/postgres.log" >&2; return 1; }
    at_exit "${as[*]} '$PG_BIN/pg_ctl' -D '$data' -m fast -w stop > /dev/null"
    export PGHOST=127.0.0.1 PGPORT="$PG_PRIVATE_PORT" PGUSER="$role"
    echo "Private PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') at 127.0.0.1:$PGPORT (data $data), stopped at exit."
}
