#!/usr/bin/env bash
# The Odoo suites under pytest, through pytest-odoo, in a throwaway database:
#   scripts/pytest-odoo.sh tests/test_interaction_log.py -k sharing
#   scripts/pytest-odoo.sh tests/                    (every Odoo suite, tours included)
# Any pytest argument works; paths are the repository's (tests/...). It installs the addon in
# a new database (log: .test-results/pytest-odoo-install.log), runs pytest there with
# pytest-odoo (--odoo-http, so HttpCase tests and browser tours run too), and drops it.
# JUnit report: set PYTEST_ODOO_JUNIT=FILE.
source "$(dirname "$0")/env.sh"
ensure_odoo || exit 1
ensure_postgres
ensure_venv
db="crm_mail_sync_pytest_$$"
data_dir="$(mktemp -d)"
mkdir -p "$REPO/.test-results"
at_exit 'dropdb -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -U "${PGUSER:-$(id -un)}" --if-exists "$db" 2>/dev/null; rm -rf "$data_dir"'
addons="$(addons_link_dir)"
conf="$data_dir/odoo.conf"
cat > "$conf" <<CONF
[options]
db_host = ${PGHOST:-127.0.0.1}
db_port = ${PGPORT:-5432}
db_user = ${PGUSER:-$(id -un)}
db_name = $db
dbfilter = ^$db\$
addons_path = $ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$addons
data_dir = $data_dir
http_interface = 127.0.0.1
workers = 0
max_cron_threads = 0
CONF
echo "Installing the addon in the throwaway database $db..."
if ! "$PY" "$ODOO_SRC/odoo-bin" -c "$conf" -d "$db" -i crm_mail_sync --without-demo=True --stop-after-init \
    --http-port="$(free_port)" > "$REPO/.test-results/pytest-odoo-install.log" 2>&1; then
    tail -n 30 "$REPO/.test-results/pytest-odoo-install.log" >&2
    exit 1
fi
# pytest-odoo imports a test as odoo.addons.<directory name>...: run it from the addons
# directory where this repository is called crm_mail_sync.
args=()
for arg in "$@"; do
    case "$arg" in
        tests | tests/* | ./tests | ./tests/*) args+=("crm_mail_sync/${arg#./}") ;;
        *) args+=("$arg") ;;
    esac
done
[ ${#args[@]} -gt 0 ] || args=(crm_mail_sync/tests)
cd "$addons"
PYTHONPATH="$ODOO_SRC${PYTHONPATH:+:$PYTHONPATH}" ODOO_RC="$conf" "$PY" -m pytest -c /dev/null --rootdir "$addons" -p odoo --odoo-database="$db" --odoo-http \
    ${PYTEST_ODOO_JUNIT:+--junitxml="$PYTEST_ODOO_JUNIT"} -ra "${args[@]}"
