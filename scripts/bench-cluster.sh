#!/usr/bin/env bash
# Measures, in one run, a local 20-member cluster with replication (bin/kvd cluster, each member
# at -Xmx64m) under 2,048 closed-loop clients (random targeting, 90% GET / 10% PUT, 100-byte
# values) against a single kvd under the same load, and prints one JSON document: both
# throughputs, their ratio, latencies and errors by code (OVERLOAD is the only error expected).
#
#   scripts/bench-cluster.sh [SECONDS] [MEMBERS]       (defaults 60 and 20)
set -euo pipefail
home="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
members="${2:-20}"
work="$(mktemp -d)"
single_port=47994
base_port=47100
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait || true; rm -rf "$work"; }
trap cleanup EXIT

load=(--clients 2048 --workload custom --mix get=90,put=10 --value-size 100 --keys 10000
      --duration "$seconds" --warmup 10)

"$home/bin/kvd" --port "$single_port" >"$work/single.log" 2>&1 &
pids+=($!)
sleep 3
"$home/bin/kvbench" --node "127.0.0.1:$single_port" "${load[@]}" --out "$work/single.json" \
  >/dev/null || true
kill "${pids[0]}"

"$home/bin/kvd" cluster --nodes "$members" --base-port "$base_port" \
  --servers-file "$work/cluster/servers.txt" >"$work/cluster.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 240); do
  grep -Eq "every member counts|not every member counts|exited|stopping" "$work/cluster.log" 2>/dev/null && break
  sleep 1
done
"$home/bin/kvbench" --servers-file "$work/cluster/servers.txt" "${load[@]}" \
  --out "$work/cluster.json" >/dev/null || true

python3 - "$work" "$members" <<'PY'
import json, sys
work, members = sys.argv[1], int(sys.argv[2])
single, cluster = (json.load(open(f"{work}/{n}.json")) for n in ("single", "cluster"))
def summary(r):
    get = r["operations"].get("GET", {})
    return {"throughputOpsPerSec": r["throughputOpsPerSec"], "completed": r["completed"],
            "timeouts": r["timeouts"], "errorsByCode": r["errorsByCode"],
            "overloadWaits": r["overloadWaits"],
            "getLatencyUsP50": get.get("latencyUsP50"), "getLatencyUsP99": get.get("latencyUsP99")}
out = {"members": members, "clients": 2048, "singleNode": summary(single),
       "cluster": summary(cluster),
       "clusterOverSingleNode": round(cluster["throughputOpsPerSec"]
                                      / max(1, single["throughputOpsPerSec"]), 4),
       "clusterErrorsOtherThanOverload": sum(n for code, n in cluster["errorsByCode"].items()
                                             if code not in ("OVERLOAD", "3"))}
print(json.dumps(out, indent=2))
PY
