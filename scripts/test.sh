#!/usr/bin/env bash
# The test command of the README: `bash scripts/test.sh [cargo test args...]`.
#
# Prepares what the integration tests need and then runs
# `cargo test --workspace "$@"` (unit, integration and doc tests):
#   - PostgreSQL accepting connections on 127.0.0.1:5432 (started if down,
#     unless DATABASE_URL points at another host);
#   - the server able to use `SET lc_messages = 'de_DE.UTF-8'` with German
#     messages (the tests check that translated messages are handled). If it
#     cannot, the locale is generated with locale-gen (as root) and the
#     PostgreSQL cluster is restarted at most once.
# Everything is idempotent: when already prepared, it only runs two quick checks.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

PG_HOST=127.0.0.1
PG_PORT=5432
GERMAN_LOCALE=de_DE.UTF-8

# A DATABASE_URL on this machine (or none) means we manage the local server.
database_url_is_local() {
    [[ -z "${DATABASE_URL:-}" ]] && return 0
    [[ "$DATABASE_URL" =~ ^postgres(ql)?://([^@/]*@)?(localhost|127\.0\.0\.1|\[::1\])(:5432)?(/|\?|$) ]]
}

pg_psql() {
    if [[ -n "${DATABASE_URL:-}" ]]; then
        psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 "$@"
    else
        psql -h "$PG_HOST" -p "$PG_PORT" -U "${PGUSER:-root}" -d test -X -v ON_ERROR_STOP=1 "$@"
    fi
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

pg_ensure_german() {
    pg_german_ok && return 0
    database_url_is_local || die "the PostgreSQL server of DATABASE_URL cannot use SET lc_messages = '$GERMAN_LOCALE' (with German translations); generate that locale on the server and restart it"
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

if database_url_is_local; then
    step "checking PostgreSQL on $PG_HOST:$PG_PORT"
    pg_ensure_running
else
    step "DATABASE_URL points at another host; not managing a local PostgreSQL"
fi

step "checking that PostgreSQL speaks German (lc_messages = '$GERMAN_LOCALE')"
pg_ensure_german

step "cargo test --workspace${*:+ $*}"
cargo test --workspace "$@"
