#!/usr/bin/env bash
# Measures, in one run on this machine, kvd's single-node speed as a ratio of the raw UDP
# request/reply rate: the C echo server from ../shared/tools/udp-echo (or UDP_ECHO=path) driven by
# its own C client and by kvbench, then one kvd at -Xmx64m driven by kvbench with 64 requests in
# flight, 90% GET / 10% PUT, 100-byte and then 10,000-byte values. Prints one JSON document with
# the figures, the ratios, p50/p99 and kvd's CPU time per operation.
#
# With 10,000-byte values kvd answers every GET with a datagram of 10,000 bytes and more, while an
# echo answers the small GET request with the same small datagram; so the 10,000-byte figure is
# compared both with that plain echo and with a second C echo server that pads every reply to the
# size of a GET reply (udp_echo server -r), the same bytes on the wire as kvd sends.
#
# kvbench warms up for 20 s before each measured run (--warmup): on 2 cores the JIT compilers of
# kvbench and of kvd take a quarter of the CPU for the first seconds, and kvd reaches its steady
# state only once its reply cache starts to expire entries, 10 s (--reply-retention-ms) after the
# first write: the first expiry deoptimises its request path, and for half a second it runs
# interpreted or C1 code (seen with -XX:+PrintCompilation).
#
# With PIN=1 (the default on a machine of 2 or more CPUs) each server's event-loop thread runs on
# CPU 1 (kvd --io-cpu 1; the C echo servers under taskset) and each load generator's on CPU 0
# (kvbench --io-cpus 0; the C client under taskset), the JVMs' other threads free. Unpinned
# (PIN=0), the scheduler now and then puts the two busy threads on one CPU for a few ms, and p99
# shows it (see the README's "Benchmarks").
#
#   [PIN=0|1] scripts/bench-single-node.sh [SECONDS]        (default 10 s per measured run)
set -euo pipefail
home="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-10}"
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

warmup=20
pin="${PIN:-1}"
if [ "$(nproc)" -lt 2 ]; then pin=0; fi
server_cpu=(); client_cpu=(); kvd_pin=(); kvbench_pin=()
if [ "$pin" = 1 ]; then
  server_cpu=(taskset -c 1); client_cpu=(taskset -c 0)
  kvd_pin=(--io-cpu 1); kvbench_pin=(--io-cpus 0)
fi
total=$(( 5 * (seconds + warmup) + 60 ))
"${server_cpu[@]}" "$echo_bin" server -p "$echo_port" -d "$total" >"$work/echo-server.log" 2>&1 &
pids+=($!)
"${server_cpu[@]}" "$echo_bin" server -p "$padded_echo_port" -r "$get_reply_length" -d "$total" \
  >"$work/padded-echo-server.log" 2>&1 &
pids+=($!)
KVD_JAVA_OPTS="" "$home/bin/kvd" --port "$kvd_port" "${kvd_pin[@]}" >"$work/kvd.log" 2>&1 &
kvd_pid=$!
pids+=("$kvd_pid")
sleep 3

common=(--duration "$seconds" --warmup "$warmup" --clients 64 --workload custom --mix get=90,put=10
        "${kvbench_pin[@]}")
"${client_cpu[@]}" "$echo_bin" client -p "$echo_port" -k 64 -s 100 -d "$seconds" -w 3 -j "$work/c-client.json" \
  -l echo >/dev/null 2>&1
"$home/bin/kvbench" --target echo --node "127.0.0.1:$echo_port" "${common[@]}" \
  --value-size 100 --out "$work/echo.json" >/dev/null
cpu() { awk '{print $14 + $15}' "/proc/$kvd_pid/stat"; }
# kvd's CPU time (user + system ticks) over the measured part of a run: from the end of the
# warm-up to kvbench's exit.
measure_kvd() {
  local out="$1"; shift
  "$home/bin/kvbench" --node "127.0.0.1:$kvd_port" "${common[@]}" "$@" --out "$work/$out" \
    >/dev/null &
  local bench=$!
  sleep "$warmup"
  local before; before=$(cpu)
  wait "$bench" || true
  echo $(( $(cpu) - before ))
}
ticks100=$(measure_kvd kvd-100.json --value-size 100 --keys 10000)
ticks10000=$(measure_kvd kvd-10000.json --value-size 10000 --keys 1000)
"$home/bin/kvbench" --target echo --node "127.0.0.1:$echo_port" "${common[@]}" \
  --value-size 10000 --out "$work/echo-10000.json" >/dev/null
"$home/bin/kvbench" --target echo --node "127.0.0.1:$padded_echo_port" "${common[@]}" \
  --value-size 10000 --out "$work/padded-echo-10000.json" >/dev/null
ticks=$(getconf CLK_TCK)

python3 - "$work" "$ticks100" "$ticks10000" "$ticks" "$pin" <<'PY'
import json, sys
work, ticks100, ticks10000, ticks = sys.argv[1], *map(int, sys.argv[2:5])
pinned = sys.argv[5] == "1"
load = lambda name: json.load(open(f"{work}/{name}"))
c = load("c-client.json")
echo, echo10k = load("echo.json"), load("echo-10000.json")
padded10k = load("padded-echo-10000.json")
k100, k10k = load("kvd-100.json"), load("kvd-10000.json")
def lat(r):
    ops = r["operations"]
    get = ops.get("GET", {})
    p50, p99 = get.get("latencyUsP50"), get.get("latencyUsP99")
    return {"latencyUsP50": p50, "latencyUsP99": p99,
            "p99OverP50": round(p99 / p50, 2) if p50 else None}
def cpu_us_per_op(ticks_used, r):
    return round(ticks_used / ticks * 1e6 / max(1, r["completed"]), 2)
out = {
  "pinned": pinned,
  "cEchoClientOpsPerSec": c["ops_per_sec"],
  "kvbenchEchoOpsPerSec": echo["throughputOpsPerSec"],
  "kvbenchOverCClient": round(echo["throughputOpsPerSec"] / c["ops_per_sec"], 3),
  "kvd100OpsPerSec": k100["throughputOpsPerSec"],
  "kvd100OverEcho": round(k100["throughputOpsPerSec"] / echo["throughputOpsPerSec"], 3),
  "kvd100": lat(k100) | {"timeouts": k100["timeouts"], "errors": k100["errors"],
                          "serverCpuUsPerOp": cpu_us_per_op(ticks100, k100)},
  "kvbenchEcho10000OpsPerSec": echo10k["throughputOpsPerSec"],
  "kvd10000OpsPerSec": k10k["throughputOpsPerSec"],
  "kvd10000OverEcho10000": round(k10k["throughputOpsPerSec"]
                                 / max(1, echo10k["throughputOpsPerSec"]), 3),
  "kvbenchPaddedEcho10000OpsPerSec": padded10k["throughputOpsPerSec"],
  "kvd10000OverPaddedEcho10000": round(k10k["throughputOpsPerSec"]
                                       / max(1, padded10k["throughputOpsPerSec"]), 3),
  "kvd10000": lat(k10k) | {"timeouts": k10k["timeouts"], "errors": k10k["errors"],
                            "badReplies": k10k["badReplies"],
                            "serverCpuUsPerOp": cpu_us_per_op(ticks10000, k10k)},
}
print(json.dumps(out, indent=2))
PY
