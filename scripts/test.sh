# The test command of the README: `bash scripts/test.sh [cargo test args...]`.
#
# Prepares what the integration tests need and then runs
# `cargo test --workspace "$@"` (unit, integration and doc tests):
#   - the PostgreSQL server of DATABASE_URL (default: the machine's own at
#     127.0.0.1:5432, database fk_safe_test) accepting connections: the
#     machine's cluster is started if it is down, the project's PostgreSQL N
#     of scripts/postgres-major.sh (port 5400 + N) is installed and started;
#     a server elsewhere is only used;
#   - the test database (fk_safe_test, or the one DATABASE_URL names),
#     created when missing, so the suite never depends on what other
#     databases of the server hold;
#   - the server able to use `SET lc_messages = 'de_DE.UTF-8'` with German
#     messages (the tests check that translated messages are handled). If it
#     cannot, the locale is generated with locale-gen (as root) and the
#     machine's cluster is restarted at most once. A server built without
#     translations (the npm binaries of scripts/postgres-major.sh) cannot:
#     the German tests skip there and say so.
# Everything is idempotent: when already prepared, it only runs quick checks.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/pg-url.sh
source scripts/pg-url.sh

step() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

TEST_DATABASE=fk_safe_test
GERMAN_LOCALE=de_DE.UTF-8

export DATABASE_URL=${DATABASE_URL:-postgres://127.0.0.1:5432/$TEST_DATABASE}
pg_url_parse "$DATABASE_URL" || die "cannot read DATABASE_URL=$DATABASE_URL (expected postgres://[user@]host[:port]/database)"
[[ -n "$PG_URL_DB" ]] || die "DATABASE_URL=$DATABASE_URL names no database"
PG_HOST=${PG_URL_HOST:-127.0.0.1}
PG_HOST=${PG_HOST#[}
PG_HOST=${PG_HOST%]}
PG_PORT=$PG_URL_PORT

pg_psql() {
    psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 "$@"
}

pg_psql_maintenance() {
    psql "$PG_URL_MAINTENANCE" -X -v ON_ERROR_STOP=1 "$@"
}

# "<version> <name>" of the local cluster on port 5432.
pg_cluster() {
    local c
    c=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2; exit }')
    if [[ -z "$c" ]]; then
        c="$(ls /etc/postgresql | sort -V | tail -n 1) main"
    fi
    printf '%s\n' "$c"
}

pg_wait_ready() {
    local i
    for i in $(seq 1 30); do
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && return 0
        sleep 1
    done
    die "PostgreSQL is not accepting connections on $PG_HOST:$PG_PORT after 30 s"
}

pg_ensure_running() {
    local rc=0
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || rc=$?
    case $rc in
        0) return 0 ;;
        1) step "PostgreSQL is starting up; waiting" ;;   # rejecting connections
        *)
            local cluster
            cluster=$(pg_cluster)
            step "starting PostgreSQL cluster $cluster"
            # shellcheck disable=SC2086  # "<version> <name>" on purpose
            pg_ctlcluster --skip-systemctl-redirect $cluster start
            ;;
    esac
    pg_wait_ready
}

# True when the server accepts the German locale and translates with it.
pg_german_ok() {
    pg_psql -Atc "SET lc_messages = '$GERMAN_LOCALE'; SELECT 1" >/dev/null 2>&1 || return 1
    local out
    out=$(pg_psql -Atc "SET lc_messages = '$GERMAN_LOCALE'; SELECT 1/0" 2>&1 || true)
    [[ "$out" == *"Division durch Null"* ]]
}

generate_german_locale() {
    [[ $EUID -eq 0 ]] || die "locale $GERMAN_LOCALE is missing; run as root (or run 'locale-gen' with '$GERMAN_LOCALE UTF-8' enabled in /etc/locale.gen) and restart PostgreSQL"
    [[ -x /usr/sbin/locale-gen ]] || die "locale $GERMAN_LOCALE is missing and locale-gen is not installed (apt-get install locales)"
    step "generating locale $GERMAN_LOCALE"
    if grep -Eq "^[#[:space:]]*${GERMAN_LOCALE//./\\.} UTF-8" /etc/locale.gen 2>/dev/null; then
        sed -Ei "s/^[#[:space:]]*(${GERMAN_LOCALE//./\\.} UTF-8)/\1/" /etc/locale.gen
    else
        printf '%s UTF-8\n' "$GERMAN_LOCALE" >> /etc/locale.gen
    fi
    /usr/sbin/locale-gen
}

# True when the server was built without NLS (no translations at all); asked
# of the server itself (pg_config needs a superuser: otherwise false).
pg_without_nls() {
    local configure
    configure=$(pg_psql -Atc "SELECT setting FROM pg_catalog.pg_config WHERE name = 'CONFIGURE'" 2>/dev/null) || return 1
    [[ -n "$configure" && "$configure" != *--enable-nls* ]]
}

pg_ensure_german() {
    pg_german_ok && return 0
    if pg_without_nls; then
        echo "this PostgreSQL server is built without NLS (no --enable-nls): it cannot send German messages, so the tests that need them skip here and say so"
        return 0
    fi
    [[ "$PG_URL_SERVER" == main ]] || die "the PostgreSQL server of DATABASE_URL cannot use SET lc_messages = '$GERMAN_LOCALE' (with German translations); generate that locale on the server and restart it"
    if ! locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'; then
        generate_german_locale
        pg_german_ok && return 0
    fi
    # The running server does not see the locale yet: restart it, once.
    local cluster
    cluster=$(pg_cluster)
    step "restarting PostgreSQL cluster $cluster so it sees $GERMAN_LOCALE"
    # shellcheck disable=SC2086
    pg_ctlcluster --skip-systemctl-redirect $cluster restart
    pg_wait_ready
    pg_german_ok || die "PostgreSQL still cannot use lc_messages = '$GERMAN_LOCALE' with German messages (is the locale generated, see 'locale -a', and are PostgreSQL's translations installed, e.g. /usr/share/locale/de/LC_MESSAGES/postgres-*.mo?)"
}

# The test database, made when missing (the maintenance database `postgres`
# exists on every server initdb made).
pg_ensure_database() {
    local exists
    exists=$(printf "SELECT 1 FROM pg_catalog.pg_database WHERE datname = :'db';\n" |
        pg_psql_maintenance -At -v db="$PG_URL_DB") ||
        die "cannot connect to $PG_URL_MAINTENANCE to create the test database $PG_URL_DB"
    [[ "$exists" == 1 ]] && return 0
    step "creating database $PG_URL_DB"
    printf 'CREATE DATABASE :"db";\n' | pg_psql_maintenance -q -v db="$PG_URL_DB"
}

if ! command -v psql >/dev/null 2>&1; then
    [[ $EUID -eq 0 ]] || die "psql is missing (apt-get install postgresql-client)"
    step "installing psql (postgresql-client)"
    apt-get update -qq && apt-get install -y -qq postgresql-client >/dev/null
fi

case $PG_URL_SERVER in
    main)
        step "checking PostgreSQL on $PG_HOST:$PG_PORT"
        pg_ensure_running
        ;;
    major:*)
        step "checking PostgreSQL ${PG_URL_SERVER#major:} on $PG_HOST:$PG_PORT"
        bash scripts/postgres-major.sh "${PG_URL_SERVER#major:}"
        ;;
    *) step "DATABASE_URL points at a server this script does not manage ($PG_HOST:$PG_PORT); using it as it is" ;;
esac

step "checking the test database $PG_URL_DB"
pg_ensure_database

step "checking that PostgreSQL speaks German (lc_messages = '$GERMAN_LOCALE')"
pg_ensure_german

step "cargo test --workspace${*:+ $*}"
cargo test --workspace "$@"
