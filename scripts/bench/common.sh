# Shared by scripts/bench-ingest and scripts/crash-test: build, wrk, a server on a free
# loopback port, and database counts. Source it; it defines functions only.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/../.." && pwd)"
WABOX="${WABOX_BINARY:-$REPO_DIR/.build/release/wabox}"

die() { echo "error: $*" >&2; exit 2; }

build_release() {
    echo "== building wabox in release mode (swift build -c release --product wabox)" >&2
    (cd "$REPO_DIR" && swift build -c release --product wabox >&2) \
        || die "the release build failed; fix it, or run with --no-build to use $WABOX as it is"
}

ensure_tools() {
    command -v python3 >/dev/null || die "python3 is needed to sign the webhook bodies and read the database: install it (apt-get install python3)"
    if ! command -v wrk >/dev/null; then
        echo "== installing wrk (Debian package)" >&2
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        { $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk; } >&2 \
            || die "could not install wrk; install it yourself (apt-get install wrk) and run again"
    fi
    [ -x "$WABOX" ] || die "no release binary at $WABOX: run without --no-build"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_server DB PORT LOG [extra serve flags…]: starts `wabox serve` in the background,
# sets SERVER_PID and waits until /healthz answers.
# SERVE_ENV, when set, adds KEY=VALUE settings (words without spaces) to the server's environment.
start_server() {
    local db="$1" port="$2" log="$3"
    shift 3
    env -u WABOX_ACCESS_TOKEN -u WABOX_PHONE_NUMBER_ID -u WABOX_DB -u WABOX_LISTEN \
        WABOX_APP_SECRET="$BENCH_SECRET" WABOX_VERIFY_TOKEN="bench-verify-token" WABOX_LOG_LEVEL="${WABOX_LOG_LEVEL:-notice}" \
        XDG_CONFIG_HOME="$BENCH_TMP/config" ${SERVE_ENV:-} \
        "$WABOX" serve --db "$db" --listen "127.0.0.1:$port" "$@" >>"$log" 2>&1 &
    SERVER_PID=$!
    local deadline=$((SECONDS + 30))
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$log" >&2
            die "wabox serve exited before answering /healthz (log above)"
        fi
        [ $SECONDS -lt $deadline ] || die "wabox serve did not answer /healthz within 30 s (log: $log)"
        sleep 0.05
    done
}

# stop_server [SIGNAL]: stops SERVER_PID (SIGTERM by default) and waits for it.
stop_server() {
    local signal="${1:-TERM}"
    [ -n "${SERVER_PID:-}" ] || return 0
    kill -s "$signal" "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# result_field LINE NAME: the value of NAME=… in a RESULT line printed by webhooks.lua.
result_field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# applier_lag PORT: the listener's applier_lag from /healthz (empty when it does not answer).
applier_lag() {
    curl -fsS --max-time 5 "http://127.0.0.1:$1/healthz" 2>/dev/null | sed -n 's/.*"applier_lag":\([0-9]*\).*/\1/p'
}

# wait_applied PORT SECONDS: waits until the listener has applied every journaled body.
wait_applied() {
    local port="$1" deadline=$((SECONDS + $2)) lag
    while :; do
        lag=$(applier_lag "$port")
        [ "$lag" = 0 ] && return 0
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.02
    done
}
