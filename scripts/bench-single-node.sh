#!/usr/bin/env bash
# Measures, in one run on this machine, kvd's single-node speed as a ratio of the raw UDP
# request/reply rate: the C echo server from ../shared/tools/udp-echo (or UDP_ECHO=path) driven by
# its own C client and by kvbench, then one kvd at -Xmx64m driven by kvbench with 64 requests in
# flight, 90% GET / 10% PUT, 100-byte and then 10,000-byte values. Prints one JSON document with
# the figures of each round, their ratios, p50/p99 and kvd's CPU time per operation, and the
# median of each ratio over the rounds.
#
# Rounds: this machine's speed drifts by up to 2x over minutes (the C client alone has measured
# 350,000 and 650,000 ops/s within the hour), so a ratio of two figures taken minutes apart says
# more about the drift than about kvd. Each round therefore measures every pair back to back (C
# client, kvbench on the echo, kvbench on kvd; then kvd, the echo and the padded echo with
# 10,000-byte values), and the summary is the median over rounds of the per-round ratios.
#
# With 10,000-byte values kvd answers every GET with a datagram of 10,000 bytes and more, while an
# echo answers the small GET request with the same small datagram; so the 10,000-byte figure is
# compared both with that plain echo and with a second C echo server that pads every reply to the
# size of a GET reply (udp_echo server -r), the same bytes on the wire as kvd sends.
#
# Each kvd run starts a fresh kvd (one kvd per configuration: a kvd that had stored 10,000-byte
# values carries their garbage into a later run's collections). kvbench warms up before each
# measured run (--warmup): on 2 cores the JIT compilers of kvbench and of kvd take a quarter of
# the CPU for the first seconds. Runs against kvd warm up for 20 s, because kvd reaches its
# steady state only once its reply cache starts to expire entries, 10 s (--reply-retention-ms)
# after the first write: the first expiry deoptimises its request path, and for half a second it
# runs interpreted or C1 code (seen with -XX:+PrintCompilation). Runs against the echo servers
# warm up for 10 s (kvbench is a new JVM each time).
#
# With PIN=1 (the default on a machine of 2 or more CPUs) each server's event-loop thread runs on
# CPU 1 (kvd --io-cpu 1; the C echo servers under taskset) and each load generator's on CPU 0
# (kvbench --io-cpus 0; the C client under taskset), the JVMs' other threads free. Unpinned
# (PIN=0), the scheduler now and then puts the two busy threads on one CPU for a few ms, and p99
# shows it (see the README's "Benchmarks").
#
#   [PIN=0|1] scripts/bench-single-node.sh [SECONDS] [ROUNDS]
#       SECONDS measured per run (default 10), ROUNDS (default 3); a round takes about
#       6 x (SECONDS + 12) + 26 s.
set -euo pipefail
home="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-10}"
rounds="${2:-3}"
echo_bin="${UDP_ECHO:-$home/../shared/tools/udp-echo/udp_echo}"
if [ ! -x "$echo_bin" ]; then
  make -s -C "$(dirname "$echo_bin")" >/dev/null
fi
work="$(mktemp -d)"
echo_port=47990
kvd_port=47991
padded_echo_port=47992
# Bytes of kvd's reply to a GET of a 10,000-byte value (messageID, errCode, value, version and
# checksum framing), rounded up.
get_reply_length=10040
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

kvd_warmup=20
warmup=10
pin="${PIN:-1}"
if [ "$(nproc)" -lt 2 ]; then pin=0; fi
server_cpu=(); client_cpu=(); kvd_pin=(); kvbench_pin=()
if [ "$pin" = 1 ]; then
  server_cpu=(taskset -c 1); client_cpu=(taskset -c 0)
  kvd_pin=(--io-cpu 1); kvbench_pin=(--io-cpus 0)
fi
total=$(( rounds * (6 * (seconds + warmup + 2) + 2 * (kvd_warmup - warmup + 5) + 5) + 60 ))
"${server_cpu[@]}" "$echo_bin" server -p "$echo_port" -d "$total" >"$work/echo-server.log" 2>&1 &
pids+=($!)
"${server_cpu[@]}" "$echo_bin" server -p "$padded_echo_port" -r "$get_reply_length" -d "$total" \
  >"$work/padded-echo-server.log" 2>&1 &
pids+=($!)
sleep 1

common=(--duration "$seconds" --clients 64 --workload custom --mix get=90,put=10
        "${kvbench_pin[@]}")
cpu() { awk '{print $14 + $15}' "/proc/$kvd_pid/stat"; }
# Starts a fresh kvd, runs kvbench against it and stops it; records kvd's CPU time (user +
# system ticks) over the measured part of the run: from the end of the warm-up to kvbench's exit.
measure_kvd() {
  local out="$1" warm="$2"; shift 2
  KVD_JAVA_OPTS="" "$home/bin/kvd" --port "$kvd_port" "${kvd_pin[@]}" >>"$work/kvd.log" 2>&1 &
  kvd_pid=$!
  pids+=("$kvd_pid")
  sleep 3
  "$home/bin/kvbench" --node "127.0.0.1:$kvd_port" "${common[@]}" --warmup "$warm" "$@" \
    --out "$work/$out" >/dev/null &
  local bench=$!
  sleep "$warm"
  local before; before=$(cpu)
  wait "$bench" || true
  echo $(( $(cpu) - before )) >"$work/$out.ticks"
  kill "$kvd_pid"
  wait "$kvd_pid" 2>/dev/null || true
}
for round in $(seq 1 "$rounds"); do
  "${client_cpu[@]}" "$echo_bin" client -p "$echo_port" -k 64 -s 100 -d "$seconds" -w 3 \
    -j "$work/c-client-$round.json" -l echo >/dev/null 2>&1
  "$home/bin/kvbench" --target echo --node "127.0.0.1:$echo_port" "${common[@]}" \
    --warmup "$warmup" --value-size 100 --out "$work/echo-$round.json" >/dev/null
  measure_kvd "kvd-100-$round.json" "$kvd_warmup" --value-size 100 --keys 10000
  measure_kvd "kvd-10000-$round.json" "$kvd_warmup" --value-size 10000 --keys 1000
  "$home/bin/kvbench" --target echo --node "127.0.0.1:$echo_port" "${common[@]}" \
    --warmup "$warmup" --value-size 10000 --out "$work/echo-10000-$round.json" >/dev/null
  "$home/bin/kvbench" --target echo --node "127.0.0.1:$padded_echo_port" "${common[@]}" \
    --warmup "$warmup" --value-size 10000 --out "$work/padded-echo-10000-$round.json" >/dev/null
done
ticks=$(getconf CLK_TCK)

python3 - "$work" "$rounds" "$ticks" "$pin" <<'PY'
import json, statistics, sys
work, rounds, ticks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pinned = sys.argv[4] == "1"
load = lambda name: json.load(open(f"{work}/{name}"))
def lat(r):
    get = r["operations"].get("GET", {})
    p50, p99 = get.get("latencyUsP50"), get.get("latencyUsP99")
    return {"latencyUsP50": p50, "latencyUsP99": p99,
            "p99OverP50": round(p99 / p50, 2) if p50 else None}
def kvd(name, r):
    used = int(open(f"{work}/{name}.ticks").read())
    return lat(r) | {"timeouts": r["timeouts"], "errors": r["errors"],
                     "badReplies": r["badReplies"],
                     "serverCpuUsPerOp": round(used / ticks * 1e6 / max(1, r["completed"]), 2)}
out_rounds = []
for n in range(1, rounds + 1):
    c = load(f"c-client-{n}.json")
    echo, echo10k = load(f"echo-{n}.json"), load(f"echo-10000-{n}.json")
    padded10k = load(f"padded-echo-10000-{n}.json")
    k100, k10k = load(f"kvd-100-{n}.json"), load(f"kvd-10000-{n}.json")
    ops = lambda r: r["throughputOpsPerSec"]
    out_rounds.append({
      "cEchoClientOpsPerSec": c["ops_per_sec"],
      "kvbenchEchoOpsPerSec": ops(echo),
      "kvbenchOverCClient": round(ops(echo) / c["ops_per_sec"], 3),
      "kvd100OpsPerSec": ops(k100),
      "kvd100OverEcho": round(ops(k100) / ops(echo), 3),
      "kvd100": kvd(f"kvd-100-{n}.json", k100),
      "kvbenchEcho10000OpsPerSec": ops(echo10k),
      "kvd10000OpsPerSec": ops(k10k),
      "kvd10000OverEcho10000": round(ops(k10k) / max(1, ops(echo10k)), 3),
      "kvbenchPaddedEcho10000OpsPerSec": ops(padded10k),
      "kvd10000OverPaddedEcho10000": round(ops(k10k) / max(1, ops(padded10k)), 3),
      "kvd10000": kvd(f"kvd-10000-{n}.json", k10k),
    })
median = lambda f: round(statistics.median(f(r) for r in out_rounds), 3)
out = {
  "pinned": pinned,
  "rounds": rounds,
  "median": {
    "kvbenchOverCClient": median(lambda r: r["kvbenchOverCClient"]),
    "kvd100OverEcho": median(lambda r: r["kvd100OverEcho"]),
    "kvd100P99OverP50": median(lambda r: r["kvd100"]["p99OverP50"]),
    "kvd100ServerCpuUsPerOp": median(lambda r: r["kvd100"]["serverCpuUsPerOp"]),
    "kvd10000OverEcho10000": median(lambda r: r["kvd10000OverEcho10000"]),
    "kvd10000OverPaddedEcho10000": median(lambda r: r["kvd10000OverPaddedEcho10000"]),
    "kvd10000P99OverP50": median(lambda r: r["kvd10000"]["p99OverP50"]),
    "kvd10000ServerCpuUsPerOp": median(lambda r: r["kvd10000"]["serverCpuUsPerOp"]),
    "timeouts": sum(r[k]["timeouts"] for r in out_rounds for k in ("kvd100", "kvd10000")),
    "errors": sum(r[k]["errors"] for r in out_rounds for k in ("kvd100", "kvd10000")),
  },
  "byRound": out_rounds,
}
print(json.dumps(out, indent=2))
PY
