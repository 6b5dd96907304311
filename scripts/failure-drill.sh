#!/usr/bin/env bash
# failure-drill.sh: injects failures into a local kvd cluster with kvctl alone, and checks after
# each one what the members see and that the data survives. Destructive: one node stays shut down.
#
#   scripts/failure-drill.sh --servers-file FILE
#       against a running cluster on this machine (5 members or more, all alive)
#   scripts/failure-drill.sh --start [--base-port P] [--workdir DIR]
#       starts its own cluster of 5 members (bin/kvd cluster, ports P..P+4, default 46150) and
#       stops it on exit; its servers file and member logs go in DIR (default: a temporary
#       directory, removed when the drill passes)
#
# The members play these parts, in the order of the first answering node's view: that node
# observes; the others are partitioned, lossy, suspended and shut down. Steps, one line each:
#   1. every member is ALIVE; put keys (one kvctl script) and read each back with kvctl get
#   2. kvctl shutdown one node; wait until the observer sees it DEAD
#   3. kvctl suspend another (SIGSTOP); wait until SUSPECT or DEAD; kvctl resume; wait until
#      every live node sees every live node ALIVE
#   4. kvctl fault set --loss-pct 20 on a third; every key still reads back through it
#   5. kvctl fault partition a fourth; wait until the others see it DEAD; kvctl fault heal; wait
#      until every live node sees every live node ALIVE
#   6. kvctl fault clear; fault list shows nothing; every key written in step 1 reads back (each
#      key lives on 4 members, so one shut-down node loses none)
# Every wait is bounded. The first failed check exits 1 with what was expected and seen; a usage
# error exits 2. On any exit the drill resumes a node it suspended, clears the faults it injected,
# and stops the cluster it started.
#
# Environment:
#   KVCTL       the kvctl launcher (default: bin/kvctl beside this script)
#   DRILL_JSON  how member views are read: jq or python3 (from kvctl -o json), or plain (kvctl
#               -o plain, with awk); default: jq when installed, else python3, else plain
#   DRILL_CDS   0: no class-data archive for kvctl (default 1: one is dumped into the workdir)
#   KVD_CLUSTER_KEY_FILE  the cluster key for kvctl (default: cluster.key beside the servers
#               file, where kvd cluster writes it, when there is one)
set -euo pipefail

home="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KVCTL="${KVCTL:-$home/bin/kvctl}"
readonly NODES_STARTED=5
readonly KEY_COUNT=6
readonly WAIT_S=20
readonly START_WAIT_S=120

servers_file=""
start=0
base_port=46150
workdir=""
workdir_made=0
cluster_pid=""
suspended=""
faulted=0
live=()
drill_start_ms=0
waited=""
last_seen=""

# usage [CODE]: the synopsis, on stdout for --help (exit 0), else on stderr (exit 2).
usage() {
  if [ "${1:-2}" = 0 ]; then
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
  fi
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

now_ms() { date +%s%3N; }

# Seconds since $1 (ms), with one decimal.
since() { awk -v ms="$(( $(now_ms) - $1 ))" 'BEGIN { printf "%.1f", ms / 1000 }'; }

say() { printf 'drill: %s\n' "$*"; }

fail() {
  printf 'drill: FAILED: %s\n' "$*" >&2
  if [ -s "$workdir/kvctl.err" ]; then
    printf 'drill: kvctl last said: %s\n' "$(tail -n 3 "$workdir/kvctl.err")" >&2
  fi
  exit 1
}

# kvctl with its stderr kept for failure messages.
kv() { "$KVCTL" "$@" 2>>"$workdir/kvctl.err"; }

# The --node options naming every live node.
live_nodes() {
  local n
  for n in "${live[@]}"; do printf -- '--node\n%s\n' "$n"; done
}

# kvctl on the live nodes only: a node that is down would cost a timeout per request.
kv_live() {
  local args=()
  mapfile -t args < <(live_nodes)
  kv "${args[@]}" "$@"
}

# Prints "VIEWER MEMBER STATUS" for every member in the view of each NODE given (with none: of
# the first node of the servers file that answers); fails when a node does not answer.
views_of() {
  local args=() n out
  if [ $# -eq 0 ]; then
    args=(--servers-file "$servers_file")
  else
    for n in "$@"; do args+=(--node "$n"); done
  fi
  case "$json_tool" in
    plain)
      out=$(kv "${args[@]}" -o plain members "$@") || return 1
      awk -F '\t' 'NF >= 3 { print $1, $2, $3 }' <<<"$out"
      ;;
    jq)
      out=$(kv "${args[@]}" -o json members "$@") || return 1
      jq -r '(if type == "array" then .[] else . end) | .node as $viewer
        | .members[] | "\($viewer) \(.address) \(.status)"' <<<"$out"
      ;;
    python3)
      out=$(kv "${args[@]}" -o json members "$@") || return 1
      python3 -c '
import json, sys
views = json.load(sys.stdin)
for view in views if isinstance(views, list) else [views]:
    for m in view["members"]:
        print(view["node"], m["address"], m["status"])' <<<"$out"
      ;;
  esac
}

# check_views "TARGET..." "STATUS..." VIEWER...: true when every VIEWER sees every TARGET with one
# of the STATUSes. Sets last_seen to what was seen: "SUSPECT" (one), "all ALIVE" (all alike) or
# "3 DEAD, 1 SUSPECT".
check_views() {
  local targets=$1 want=$2 lines
  shift 2
  if ! lines=$(views_of "$@"); then
    last_seen="no view from $*"
    return 1
  fi
  last_seen=$(awk -v targets="$targets" '
      BEGIN { split(targets, list, " "); for (i in list) t[list[i]] = 1 }
      ($2 in t) { n[$3]++; kinds += (n[$3] == 1); total++ }
      END {
        if (total == 0) printf "no such member"
        for (s in n) {
          if (kinds > 1) printf "%s%d %s", (sep++ ? ", " : ""), n[s], s
          else printf "%s%s", (total > 1 ? "all " : ""), s
        }
      }' <<<"$lines")
  awk -v targets="$targets" -v want="$want" -v viewers=$# '
      BEGIN {
        targetCount = split(targets, list, " "); for (i in list) t[list[i]] = 1
        split(want, wanted, " "); for (i in wanted) w[wanted[i]] = 1
      }
      ($2 in t) { seen++; if (!($3 in w)) bad++ }
      END { exit !(seen == targetCount * viewers && bad == 0) }' <<<"$lines"
}

# wait_until SECONDS COMMAND...: runs COMMAND until it succeeds, at most SECONDS; sets waited.
wait_until() {
  local timeout_ms=$(( $1 * 1000 )) started
  shift
  started=$(now_ms)
  while true; do
    if "$@"; then
      waited=$(since "$started")
      return 0
    fi
    if (( $(now_ms) - started >= timeout_ms )); then
      waited=$(since "$started")
      return 1
    fi
    sleep 0.3
  done
}

# read_keys WHAT KVCTL_ARGS...: reads every key back and compares it with what was written.
read_keys() {
  local what=$1 i got code
  shift
  for i in $(seq 1 "$KEY_COUNT"); do
    got=$(kv "$@" get "${keys[i]}") && code=0 || code=$?
    if [ "$code" != 0 ]; then
      fail "$what: get ${keys[i]} failed with exit code $code"
    fi
    if [ "$got" != "${values[i]}" ]; then
      fail "$what: get ${keys[i]} printed '$got', expected '${values[i]}'"
    fi
  done
}

without() { # without ITEM LIST...: LIST less ITEM, one per line
  local item=$1 x
  shift
  for x in "$@"; do [ "$x" = "$item" ] || printf '%s\n' "$x"; done
}

cleanup() {
  local code=$?
  trap - EXIT INT TERM
  if [ -n "$suspended" ]; then
    say "cleanup: resuming $suspended"
    "$KVCTL" resume "$suspended" >/dev/null 2>&1 || true
  fi
  if [ "$faulted" = 1 ] && [ ${#live[@]} -gt 0 ]; then
    say "cleanup: clearing faults on ${live[*]}"
    kv_live fault clear >/dev/null 2>&1 || true
  fi
  if [ -n "$cluster_pid" ] && kill -0 "$cluster_pid" 2>/dev/null; then
    kill -TERM "$cluster_pid" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do
      kill -0 "$cluster_pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$cluster_pid" 2>/dev/null; then
      say "cleanup: kvd cluster (pid $cluster_pid) did not stop in 20 s; killing it"
      kill -KILL "$cluster_pid" 2>/dev/null || true
    fi
    wait "$cluster_pid" 2>/dev/null || true
    say "cleanup: stopped the cluster (logs in $workdir)"
  fi
  if [ "$code" = 0 ] && [ "$workdir_made" = 1 ]; then
    rm -rf "$workdir"
  elif [ -n "$workdir" ]; then
    say "kvctl errors and logs are in $workdir"
  fi
  exit "$code"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --servers-file) [ $# -ge 2 ] || usage; servers_file=$2; shift 2 ;;
    --start) start=1; shift ;;
    --base-port) [ $# -ge 2 ] || usage; base_port=$2; shift 2 ;;
    --workdir) [ $# -ge 2 ] || usage; workdir=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "failure-drill: unknown argument: $1" >&2; usage ;;
  esac
done
if [ "$start" = 1 ] && [ -n "$servers_file" ]; then
  echo "failure-drill: give --start or --servers-file, not both" >&2
  exit 2
fi
if [ "$start" = 0 ] && [ -z "$servers_file" ]; then
  usage
fi
if [ "$start" = 0 ] && [ ! -r "$servers_file" ]; then
  echo "failure-drill: cannot read $servers_file" >&2
  exit 2
fi
if ! [[ "$base_port" =~ ^[0-9]+$ ]]; then
  echo "failure-drill: --base-port must be a number" >&2
  exit 2
fi
json_tool="${DRILL_JSON:-}"
if [ -z "$json_tool" ]; then
  if command -v jq >/dev/null 2>&1; then
    json_tool=jq
  elif command -v python3 >/dev/null 2>&1; then
    json_tool=python3
  else
    json_tool=plain
  fi
fi
case "$json_tool" in
  jq|python3|plain) ;;
  *) echo "failure-drill: DRILL_JSON must be jq, python3 or plain" >&2; exit 2 ;;
esac

if [ -z "$workdir" ]; then
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/failure-drill.XXXXXX")
  workdir_made=1
fi
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
: >"$workdir/kvctl.err"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
drill_start_ms=$(now_ms)
say "reading member views with $json_tool; kvctl errors go to $workdir/kvctl.err"

if [ "$start" = 1 ]; then
  # kvd cluster counts a member up when its port answers: a kvd left on these ports would pass
  # for a member that could not bind, and the drill would break that cluster instead.
  ports=()
  for i in $(seq 0 $(( NODES_STARTED - 1 ))); do ports+=("127.0.0.1:$(( base_port + i ))"); done
  held=$("$KVCTL" --timeout-ms 100 --retries 1 -o plain ping -c 1 "${ports[@]}" 2>/dev/null \
    | awk -F '\t' '$2 == "yes" { print $1 }') || true
  if [ -n "$held" ]; then
    fail "a kvd already answers on $(echo "$held" | tr '\n' ' ')- stop it or give another" \
      "--base-port"
  fi
  servers_file="$workdir/servers.txt"
  "$home/bin/kvd" cluster --nodes "$NODES_STARTED" --base-port "$base_port" \
    --servers-file "$servers_file" >"$workdir/cluster.log" 2>&1 &
  cluster_pid=$!
  started=$(now_ms)
  # Printed once every member answers, whether or not membership has converged yet.
  while ! grep -q "SIGTERM stops them all" "$workdir/cluster.log"; do
    if ! kill -0 "$cluster_pid" 2>/dev/null; then
      wait "$cluster_pid" && code=0 || code=$?
      cluster_pid=""
      fail "kvd cluster exited with $code while starting: $(tail -n 5 "$workdir/cluster.log")"
    fi
    if (( $(now_ms) - started >= START_WAIT_S * 1000 )); then
      fail "kvd cluster did not start in $START_WAIT_S s: $(tail -n 5 "$workdir/cluster.log")"
    fi
    sleep 0.3
  done
  say "start: kvd cluster of $NODES_STARTED members on 127.0.0.1:$base_port..$(( base_port \
    + NODES_STARTED - 1 )) (pid $cluster_pid) up after $(since "$started") s"
fi

# kvctl's admin commands (members, fault) need the cluster's key when it has one: the cluster.key
# that kvd cluster writes beside its servers file, unless KVD_CLUSTER_KEY_FILE names another.
if [ -z "${KVD_CLUSTER_KEY_FILE:-}" ] && [ -f "$(dirname "$servers_file")/cluster.key" ]; then
  KVD_CLUSTER_KEY_FILE="$(cd "$(dirname "$servers_file")" && pwd)/cluster.key"
  export KVD_CLUSTER_KEY_FILE
fi

# Each kvctl is a JVM: a class-data archive of kvctl's classes, dumped by one training run,
# halves their start-up (as kvd cluster does for kvd).
if [ "${DRILL_CDS:-1}" = 1 ]; then
  printf 'ping\nmembers\nget drill-cds-training\nfault list\n' \
    | KVCTL_JAVA_OPTS="-XX:ArchiveClassesAtExit=$workdir/kvctl.jsa ${KVCTL_JAVA_OPTS:-}" \
      "$KVCTL" --servers-file "$servers_file" --keep-going -o json >/dev/null 2>&1 || true
  if [ -s "$workdir/kvctl.jsa" ]; then
    export KVCTL_JAVA_OPTS="-XX:SharedArchiveFile=$workdir/kvctl.jsa ${KVCTL_JAVA_OPTS:-}"
  fi
fi

# Step 1: who is there, and the data.
if ! view=$(views_of); then
  fail "no node of $servers_file answers kvctl members"
fi
observer=$(awk 'NR == 1 { print $1 }' <<<"$view")
mapfile -t members < <(awk '{ print $2 }' <<<"$view")
mapfile -t others < <(without "$observer" "${members[@]}")
if [ ${#others[@]} -lt 4 ]; then
  fail "the drill needs 5 members or more; $observer sees ${#members[@]}"
fi
live=("${members[@]}")
part=${others[0]}
lossy=${others[1]}
susp=${others[2]}
down=${others[3]}
if ! wait_until "$WAIT_S" check_views "${members[*]}" ALIVE "$observer"; then
  fail "members: $observer does not see all ${#members[@]} members ALIVE after $waited s" \
    "(saw $last_seen)"
fi
say "members: $observer sees ${#members[@]} members, $last_seen; parts: partition $part," \
  "loss $lossy, suspend $susp, shutdown $down"

run_id="$(date +%s)-$$"
keys=()
values=()
script=""
for i in $(seq 1 "$KEY_COUNT"); do
  keys[i]="drill-$run_id-$i"
  values[i]="value-$i-of-$run_id"
  script+="put ${keys[i]} ${values[i]}"$'\n'
done
if ! kv --servers-file "$servers_file" <<<"$script" >/dev/null; then
  fail "put: writing $KEY_COUNT keys (kvctl put, one script) failed"
fi
say "put: wrote $KEY_COUNT keys drill-$run_id-1..$KEY_COUNT through random nodes"
read_keys "get" --servers-file "$servers_file"
say "get: all $KEY_COUNT keys read back what was written"

# Step 2: a node stops.
if ! kv --servers-file "$servers_file" -o json shutdown "$down" >/dev/null; then
  fail "shutdown: kvctl shutdown $down failed"
fi
mapfile -t live < <(without "$down" "${live[@]}")
if ! wait_until "$WAIT_S" check_views "$down" DEAD "$observer"; then
  fail "shutdown: $observer does not see $down DEAD after $waited s (saw $last_seen)"
fi
say "shutdown: stopped $down; $observer sees it DEAD after $waited s"

# Step 3: a node pauses, and comes back.
if ! kv suspend "$susp" >/dev/null; then
  fail "suspend: kvctl suspend $susp failed"
fi
suspended=$susp
if ! wait_until "$WAIT_S" check_views "$susp" "SUSPECT DEAD" "$observer"; then
  fail "suspend: $observer does not see $susp SUSPECT or DEAD after $waited s (saw $last_seen)"
fi
say "suspend: froze $susp (SIGSTOP); $observer sees it $last_seen after $waited s"
if ! kv resume "$susp" >/dev/null; then
  fail "resume: kvctl resume $susp failed"
fi
suspended=""
if ! wait_until "$WAIT_S" check_views "$susp" ALIVE "$observer"; then
  fail "resume: $observer does not see $susp ALIVE after $waited s (saw $last_seen)"
fi
resumed_s=$waited
if ! wait_until "$WAIT_S" check_views "${live[*]}" ALIVE "${live[@]}"; then
  fail "resume: the ${#live[@]} live nodes do not all see each other ALIVE after $waited s" \
    "(saw $last_seen)"
fi
say "resume: resumed $susp (SIGCONT); $observer sees it ALIVE after $resumed_s s, and all" \
  "${#live[@]} live nodes see each other ALIVE after $waited s"

# Step 4: a lossy node.
faulted=1
if ! kv_live fault set "$lossy" --loss-pct 20 --expire-s 60 >/dev/null; then
  fail "fault set: kvctl fault set $lossy --loss-pct 20 failed"
fi
if ! faults=$(kv_live -o plain fault list "$lossy"); then
  fail "fault set: kvctl fault list $lossy failed"
fi
if ! grep -q 'loss 20%' <<<"$faults"; then
  fail "fault set: kvctl fault list $lossy shows '$faults', expected loss 20%"
fi
# Its replies and forwards lose 20%: 7 attempts make a lost read unlikely (0.2^7 per key).
read_keys "lossy get" --node "$lossy" --retries 6
say "fault set: $lossy drops 20% of what it sends for 60 s; all $KEY_COUNT keys read back" \
  "through it"

# Step 5: a partition.
mapfile -t rest < <(without "$part" "${live[@]}")
if ! kv_live fault partition "$part" --expire-s 60 >/dev/null; then
  fail "partition: kvctl fault partition $part failed"
fi
if ! wait_until "$WAIT_S" check_views "$part" DEAD "${rest[@]}"; then
  fail "partition: the other ${#rest[@]} live nodes do not all see $part DEAD after $waited s" \
    "(saw $last_seen)"
fi
say "partition: cut $part off from ${#rest[@]} nodes; they all see it DEAD after $waited s"
if ! kv_live fault heal >/dev/null; then
  fail "heal: kvctl fault heal failed"
fi
if ! wait_until "$WAIT_S" check_views "${live[*]}" ALIVE "${live[@]}"; then
  fail "heal: the ${#live[@]} live nodes do not all see each other ALIVE after $waited s" \
    "(saw $last_seen)"
fi
say "heal: healed the partition; all ${#live[@]} live nodes see each other ALIVE after $waited s"

# Step 6: back to normal, and the data is all there.
if ! kv_live fault clear >/dev/null; then
  fail "clear: kvctl fault clear failed"
fi
faulted=0
if ! faults=$(kv_live -o plain fault list); then
  fail "clear: kvctl fault list failed"
fi
if ! awk -F '\t' '$2 != "-" || $3 != "-" { bad = 1 } END { exit bad }' <<<"$faults"; then
  fail "clear: kvctl fault list still shows faults: $faults"
fi
say "clear: cleared faults and partitions; fault list shows none on ${#live[@]} nodes"
mapfile -t live_args < <(live_nodes)
read_keys "final get" "${live_args[@]}"
say "final get: all $KEY_COUNT keys read back after a shutdown, a suspend, 20% loss and a" \
  "partition"
say "PASSED in $(since "$drill_start_ms") s"
