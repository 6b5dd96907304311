#!/usr/bin/env bash
# Profiles one kvd (-Xmx64m, as bin/kvd starts it) under kvbench load with async-profiler (fetched
# from Maven Central into target/async-profiler on first use) and prints the hottest frames, by
# self time and by inclusive time; the collapsed stacks stay in target/profile/ for a flame graph.
# The first SECONDS/2 of load warm the JIT before profiling starts.
#
#   scripts/profile-kvd.sh [SECONDS] [VALUE_BYTES]       (defaults 20 and 100)
#
# Keys: 10,000, or 1,000 with values over 1,000 bytes, so that the store's budget holds them all.
set -euo pipefail
home="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-20}"
value="${2:-100}"
keys=$(( value > 1000 ? 1000 : 10000 ))
version=4.2
ap="$home/target/async-profiler"
lib="$ap/linux-x64/libasyncProfiler.so"
if [ ! -f "$lib" ]; then
  mkdir -p "$ap"
  mvn -B -q dependency:copy -Dartifact="tools.profiler:async-profiler:$version:jar:linux-x64" \
    -DoutputDirectory="$ap" >/dev/null
  (cd "$ap" && unzip -o -q "async-profiler-$version-linux-x64.jar" 'linux-x64/*')
fi
out="$home/target/profile"
mkdir -p "$out"
port=47993
"$home/bin/kvd" --port "$port" >"$out/kvd.log" 2>&1 &
kvd=$!
trap 'kill $kvd 2>/dev/null || true' EXIT
sleep 3
# jcmd would read the options' '=' as its own named arguments unless they are quoted once more.
control() { jcmd "$kvd" JVMTI.agent_load "$lib" "\"$1\"" >/dev/null; }
load=(--node "127.0.0.1:$port" --clients 64 --workload custom --mix get=90,put=10
      --value-size "$value" --keys "$keys")
"$home/bin/kvbench" "${load[@]}" --duration $((seconds / 2)) --warmup 0 >/dev/null
control "start,event=cpu,interval=200us"
"$home/bin/kvbench" "${load[@]}" --duration "$seconds" --warmup 0 --out "$out/kvbench.json" \
  >/dev/null
control "stop,collapsed,file=$out/kvd-collapsed.txt"
python3 - "$out/kvd-collapsed.txt" "$out/kvbench.json" <<'PY'
import collections, json, sys
own, incl, total = collections.Counter(), collections.Counter(), 0
for line in open(sys.argv[1]):
    stack, n = line.rsplit(' ', 1)
    n = int(n); total += n
    frames = stack.split(';')
    own[frames[-1]] += n
    for f in set(frames):
        incl[f] += n
print(f"kvbench: {json.load(open(sys.argv[2]))['throughputOpsPerSec']} ops/s; {total} samples")
print("self time:")
for f, n in own.most_common(25):
    print(f"  {100 * n / total:5.1f}%  {f}")
print("inclusive time (frames of kvd, Netty and the JVM's compiler and collector):")
keep = ("io/kvd", "io/netty", "Compile", "G1", "sendmmsg", "recvmmsg", "epoll_wait")
for f, n in incl.most_common(400):
    if any(k in f for k in keep):
        print(f"  {100 * n / total:5.1f}%  {f}")
PY
