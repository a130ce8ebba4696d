#!/bin/sh
# Runs the loadgen workloads RUNS times each (default 3) and appends their
# output to docs/bench/raw/<workload>.txt; the last run of fanout and
# latency also writes the plots into docs/bench/. Before each run it waits
# (up to WAIT seconds, default 120) for the host's 1-minute load average to
# drop below MAXLOAD (default 1.5): the machine is shared. The gateway is
# built from a clean export of HEAD (git archive), so uncommitted work in
# the tree does not leak into the numbers; REV=<commit> measures another
# commit. Then:
#   go run ./cmd/loadgen summarize docs/bench/raw/*.txt
# Usage: docs/bench/run.sh [workload ...]   (default: all six)
set -eu
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
WAIT=${WAIT:-120}
MAXLOAD=${MAXLOAD:-1.5}
OUT=docs/bench/raw
mkdir -p "$OUT"
REV=$(git rev-parse --short "${REV:-HEAD}")
SRC=$(mktemp -d /tmp/loadgen-src-XXXXXX)
trap 'rm -rf "$SRC"' EXIT
git archive "$REV" | tar -x -C "$SRC"
(cd "$SRC" && go build -o /tmp/loadgen-gateway ./cmd/gateway)
go build -o /tmp/loadgen ./cmd/loadgen
LG="/tmp/loadgen"
GW="-gateway /tmp/loadgen-gateway -gateway-rev $REV"

. docs/bench/quiet.sh # the scripts run from the repository root (cd above)

one() { # workload run-number args...
	w=$1 n=$2
	shift 2
	plot=""
	[ "$n" = "$RUNS" ] && plot="-plot docs/bench"
	quiet
	echo "== $w run $n $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/$w.txt"
	$LG "$w" $GW $plot "$@" 2>&1 | tee -a "$OUT/$w.txt"
}

set -- ${*:-fanout latency memory storm publish inbox-flood}
for w in "$@"; do
	for n in $(seq "$RUNS"); do
		case $w in
		fanout) one fanout "$n" -ramp -conns 5000 -rate 2 -ramp-factor 1.5 -step 10s ;;
		latency) one latency "$n" -conns 2000 -nodes 2 -rate 500 -duration 20s ;;
		memory) one memory "$n" -conns 10000 ;;
		storm) one storm "$n" -conns 2000 -per 20 ;;
		publish) one publish "$n" -workers 32 -batch-workers 8 -batch 100 -duration 10s ;;
		inbox-flood) one inbox-flood "$n" -rate 200 -phase 15s -ws 8 -reads 8 -http-state 4 ;;
		esac
	done
done
