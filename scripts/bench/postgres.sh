# Shared by scripts/bench-ingest and scripts/crash-test with --db postgres: a throwaway
# PostgreSQL of the script's own (Debian's `postgresql` programs, initdb into a temporary
# folder, `postgres` on a free loopback port), as Sources/InboxTesting/PostgresServer.swift
# starts one for the tests. As root every PostgreSQL program runs as `nobody` (PostgreSQL
# refuses to run as root). Source it after common.sh; it defines functions only.

PG_DIR="" PG_PID="" PG_PORT="" PG_PASSWORD="" PG_USER="wabox_bench"

# start_postgres: sets PG_DIR, PG_PORT, PG_PASSWORD and PG_PID, and waits until it is ready.
start_postgres() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$bin" ] && [ -x "$bin/initdb" ] || die "no PostgreSQL under /usr/lib/postgresql: apt-get install postgresql"
    command -v psql >/dev/null || die "psql is needed to read the journal: apt-get install postgresql-client"
    PG_BIN="$bin"
    PG_DIR="$(mktemp -d /tmp/wabox-bench-pg.XXXXXX)"
    PG_PASSWORD="pg-$RANDOM$RANDOM$RANDOM$RANDOM"
    printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/password"
    AS_PG=()
    if [ "$(id -u)" -eq 0 ]; then
        chown -R nobody:"$(id -gn nobody)" "$PG_DIR"
        AS_PG=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups)
    fi
    "${AS_PG[@]}" "$bin/initdb" -D "$PG_DIR/data" -U "$PG_USER" --pwfile "$PG_DIR/password" --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --no-locale --no-sync >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed (log above)"; }
    PG_PORT=$(free_port)
    # Loopback only; max_connections for listeners' pools, twenty screens and psql.
    "${AS_PG[@]}" "$bin/postgres" -D "$PG_DIR/data" -p "$PG_PORT" -k "$PG_DIR" -c listen_addresses=127.0.0.1 \
        -c max_connections=200 >>"$PG_DIR/server.log" 2>&1 &
    PG_PID=$!
    local deadline=$((SECONDS + 60))
    until "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres 2>/dev/null; do
        kill -0 "$PG_PID" 2>/dev/null || { cat "$PG_DIR/server.log" >&2; die "PostgreSQL exited (log above)"; }
        [ $SECONDS -lt $deadline ] || die "PostgreSQL did not become ready within 60 s (log: $PG_DIR/server.log)"
        sleep 0.1
    done
}

# stop_postgres: fast shutdown, then the folder goes.
stop_postgres() {
    if [ -n "$PG_PID" ]; then
        kill -INT "$PG_PID" 2>/dev/null || true
        wait "$PG_PID" 2>/dev/null || true
        PG_PID=""
    fi
    [ -n "$PG_DIR" ] && rm -rf "$PG_DIR"
    PG_DIR=""
}

# pg_sql DATABASE SQL: runs SQL with psql over TCP, unaligned output without headers.
pg_sql() {
    PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=10 psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
        -U "$PG_USER" -d "$1" -c "$2"
}

# pg_create_database NAME: an empty database.
pg_create_database() { pg_sql postgres "CREATE DATABASE $1" >/dev/null; }

# pg_url DATABASE: the URL `wabox serve --db` takes (the password inside: never echo it).
pg_url() { echo "postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$1?sslmode=disable"; }

# pg_journal_count DATABASE: how many bodies the journal holds.
pg_journal_count() { pg_sql "$1" "SELECT count(*) FROM journal"; }

# pg_journal_dump DATABASE FILE: every journaled body, one hex line each, for dbcheck.py.
pg_journal_dump() {
    PGPASSWORD="$PG_PASSWORD" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$1" \
        -c "\\copy (SELECT encode(body, 'hex') FROM journal) TO '$2'"
}
