# scripts/crash-test --db postgres: sourced by it after its options are read (RUNS,
# CONNECTIONS, LISTENERS, BENCH_TMP, BENCH_SECRET are set). Sets FAILED_EXIT.
#
# LISTENERS `wabox serve` share one database of a throwaway PostgreSQL. Each run loads every
# listener with a wrk of its own (CONNECTIONS threads, one connection each, so that every 200
# is matched to its body), kills listener 0 with kill -9 at a random moment 1 to 5 s in,
# keeps the others under load for 2 s more, restarts listener 0 on its port, loads it again
# for a second, then stops the loads. It passes when every webhook acknowledged by any
# listener is in the journal (matched by HMAC, scripts/bench/dbcheck.py verify-journal) and
# the listeners not killed answered every request with 200.

source "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"

PG_SERVE_PIDS=()
PG_WRK_PIDS=()
cleanup() {
    for pid in "${PG_WRK_PIDS[@]}" "${PG_SERVE_PIDS[@]}"; do
        [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    done
    stop_postgres
    if [ "$KEEP" = 1 ]; then echo "kept $BENCH_TMP" >&2; else rm -rf "$BENCH_TMP"; fi
}

start_postgres
DATABASE=crash
pg_create_database "$DATABASE"
URL=$(pg_url "$DATABASE")
PORTS=()
for index in $(seq 0 $((LISTENERS - 1))); do
    PORTS+=("$(free_port)")
    start_server "$URL" "${PORTS[$index]}" "$BENCH_TMP/serve-$index.log"
    PG_SERVE_PIDS[$index]=$SERVER_PID
    SERVER_PID=""
done
echo "== PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT; $LISTENERS listeners on ports ${PORTS[*]}"
echo "== $RUNS runs, $CONNECTIONS connections per listener (one wrk thread each); listener 0 is killed with kill -9 each run"

# load INDEX RUN TAG SECONDS: starts wrk on listener INDEX in the background, its bodies and
# acknowledgements in files named for RUN and TAG; sets PG_WRK_PIDS[INDEX].
load() {
    local index="$1" run="$2" tag="$3" seconds="$4"
    local bodies="$BENCH_TMP/bodies-$run-$tag"
    python3 "$BENCH_DIR/webhooks.py" --mode mixed --secret "$BENCH_SECRET" --count 60000 \
        --run "crash$run$tag" --shards "$CONNECTIONS" --out "$bodies"
    WEBHOOK_BODIES="$bodies" WEBHOOK_THREADS="$CONNECTIONS" WEBHOOK_ACKED="$BENCH_TMP/acked-$run-$tag" \
        wrk -t"$CONNECTIONS" -c"$CONNECTIONS" -d"${seconds}s" --timeout 5s -s "$BENCH_DIR/webhooks.lua" \
        "http://127.0.0.1:${PORTS[$index]}" >"$BENCH_TMP/wrk-$run-$tag.out" 2>&1 &
    PG_WRK_PIDS[$index]=$!
}

# finish INDEX: ends listener INDEX's wrk (SIGINT: it prints its summary) and waits for it.
finish() {
    local pid="${PG_WRK_PIDS[$1]:-}"
    [ -n "$pid" ] || return 0
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    PG_WRK_PIDS[$1]=""
}

failures=0
total_acked=0
for run in $(seq 1 "$RUNS"); do
    for index in $(seq 0 $((LISTENERS - 1))); do load "$index" "$run" "l$index" 60; done
    delay=$(python3 -c 'import random; print("%.3f" % random.uniform(1, 5))')
    sleep "$delay"
    kill -9 "${PG_SERVE_PIDS[0]}"
    wait "${PG_SERVE_PIDS[0]}" 2>/dev/null || true
    finish 0
    sleep 2
    restarted_at=$(date +%s.%N)
    start_server "$URL" "${PORTS[0]}" "$BENCH_TMP/serve-0.log"
    PG_SERVE_PIDS[0]=$SERVER_PID
    SERVER_PID=""
    restart=$(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $restarted_at }")
    load 0 "$run" "r0" 60
    sleep 1
    for index in $(seq 0 $((LISTENERS - 1))); do finish "$index"; done

    # The listeners that were not killed: every request answered 200.
    survivors_ok=1 survivor_summary=""
    for index in $(seq 1 $((LISTENERS - 1))); do
        result=$(grep '^RESULT' "$BENCH_TMP/wrk-$run-l$index.out" || true)
        [ -n "$result" ] || { cat "$BENCH_TMP/wrk-$run-l$index.out" >&2; survivors_ok=0; continue; }
        # An answer other than 200, or a request cut off or timed out, fails the run. wrk's
        # connect errors (a new connection refused or reset before any request on it) are
        # shown apart: every request the survivor received was answered (ok = requests).
        bad=$(( $(result_field "$result" unavailable) + $(result_field "$result" other) \
                + $(result_field "$result" read_errors) + $(result_field "$result" write_errors) + $(result_field "$result" timeouts) ))
        survivor_summary="$survivor_summary listener $index: $(result_field "$result" ok) x 200 of $(result_field "$result" requests) answered, $bad not 200, $(result_field "$result" connect_errors) connect errors, p99 $(result_field "$result" p99_ms) ms;"
        [ "$bad" -eq 0 ] || survivors_ok=0
    done
    pg_journal_dump "$DATABASE" "$BENCH_TMP/journal.hex"
    verdict=$(python3 "$BENCH_DIR/dbcheck.py" verify-journal "$BENCH_TMP/journal.hex" "$BENCH_SECRET" "$BENCH_TMP"/acked-"$run"-*.* 2>&1) \
        && journal_ok=1 || journal_ok=0
    victim_acked=$(cat "$BENCH_TMP"/acked-"$run"-l0.* 2>/dev/null | wc -l)
    printf 'run %2d: listener 0 killed after %5s s (it had acknowledged %s), restarted in %s s; %s;%s\n' \
        "$run" "$delay" "$victim_acked" "$restart" "$(head -1 <<<"$verdict")" "$survivor_summary"
    if [ "$journal_ok" != 1 ]; then tail -n +2 <<<"$verdict"; failures=$((failures + 1)); fi
    if [ "$survivors_ok" != 1 ]; then echo "run $run: a listener that was not killed answered something else than 200" >&2; failures=$((failures + 1)); fi
    if [ "$victim_acked" -eq 0 ]; then
        echo "run $run: listener 0 acknowledged nothing before the kill, so the run proved nothing" >&2
        failures=$((failures + 1))
    fi
    total_acked=$((total_acked + $(sed -n 's/^acked=\([0-9]*\).*/\1/p' <<<"$verdict")))
    rm -f "$BENCH_TMP"/bodies-"$run"-*
done

echo "journal: $(pg_journal_count "$DATABASE") bodies; $total_acked acknowledged over the runs"
if [ "$failures" -eq 0 ]; then
    echo "PASS: every acknowledged webhook is in the PostgreSQL journal after $RUNS kill -9 runs, and the other listeners answered 200 throughout"
    FAILED_EXIT=0
else
    echo "FAIL: $failures problems over $RUNS runs"
    FAILED_EXIT=1
fi
