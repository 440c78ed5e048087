# Sourced by scripts/test.sh and .ci/run: what a PostgreSQL URL points at.
#
#   pg_url_parse URL   sets PG_URL_HOST, PG_URL_PORT (5432 when absent),
#                      PG_URL_DB, PG_URL_MAINTENANCE (the same server's
#                      `postgres` database) and PG_URL_SERVER:
#                        main      the machine's own cluster on port 5432
#                                  (TCP on the loopback, or the local socket)
#                        major:N   the project's PostgreSQL N (13 to 30) of
#                                  scripts/postgres-major.sh (port 5400 + N)
#                        other     anything else: used, never managed
#                      Returns 1 for a URL it cannot read.

pg_url_parse() {
    local url=$1
    local re='^(postgres(ql)?://)([^@/?]*@)?(\[[^]/]*\]|[^:/?]*)(:([0-9]+))?(/([^?]*))?(\?.*)?$'
    [[ "$url" =~ $re ]] || return 1
    local scheme=${BASH_REMATCH[1]} userinfo=${BASH_REMATCH[3]} query=${BASH_REMATCH[9]}
    PG_URL_HOST=${BASH_REMATCH[4]}
    PG_URL_PORT=${BASH_REMATCH[6]:-5432}
    PG_URL_DB=${BASH_REMATCH[8]}
    PG_URL_MAINTENANCE="${scheme}${userinfo}${PG_URL_HOST}${BASH_REMATCH[5]}/postgres${query}"
    PG_URL_SERVER=other
    # Parameters in the query string can move the connection anywhere, and a
    # percent-encoded name is not what it reads: neither is managed.
    if [[ "$query" =~ (^|[?\&])(host|hostaddr|port|dbname|service)= || "$PG_URL_DB" == *%* ]]; then
        return 0
    fi
    case $PG_URL_HOST in
        localhost | 127.0.0.1 | '[::1]' | '') ;;
        *) return 0 ;;
    esac
    if [[ "$PG_URL_PORT" == 5432 ]]; then
        PG_URL_SERVER=main
    elif [[ -z "$PG_URL_HOST" ]]; then
        return 0   # a socket on another port: not ours
    elif ((PG_URL_PORT >= 5413 && PG_URL_PORT <= 5430)); then
        PG_URL_SERVER="major:$((PG_URL_PORT - 5400))"
    fi
}
