#!/bin/sh
# Measures the gateway and the peer (Centrifugo v6, Redis engine; install
# it first with docs/bench/peer.sh) side by side: every workload runs with
# `loadgen -target both -runs RUNS`, so the two alternate (A B A B …) in one
# invocation, each run after waiting (up to WAIT seconds, default 180) for
# the 1-minute load average to drop below MAXLOAD (default 1.5). Output is
# appended to OUT/<workload>.txt (default docs/bench/raw-compare), then
# `loadgen summarize` prints medians with ranges per target and the ratio
# ours/peer per metric against the targets of issue 14 into
# OUT/summary.txt. The gateway is built from a clean export of HEAD (git
# archive), REV=<commit> measures another commit.
#
# Usage: docs/bench/compare.sh [workload ...]
#   workloads: latency publish fanout fanout-rate memory storm storm-deep
#   (default: all)
#   RUNS=3  SCALE=full|smoke (smoke: 200 connections, short steps, to check
#   the tooling)  CENTRIFUGO_BIN=<binary> (default ~/.cache/alarmgate-peer/bin/centrifugo)
set -eu
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
WAIT=${WAIT:-180}
MAXLOAD=${MAXLOAD:-1.5}
SCALE=${SCALE:-full}
OUT=${OUT:-docs/bench/raw-compare}
mkdir -p "$OUT"
REV=$(git rev-parse --short "${REV:-HEAD}")
SRC=$(mktemp -d /tmp/loadgen-src-XXXXXX)
trap 'rm -rf "$SRC"' EXIT
git archive "$REV" | tar -x -C "$SRC"
(cd "$SRC" && go build -o "$SRC/.bin/gateway" ./cmd/gateway)
go build -o "$SRC/.bin/loadgen" ./cmd/loadgen
PEER=""
[ -n "${CENTRIFUGO_BIN:-}" ] && PEER="-centrifugo $CENTRIFUGO_BIN"
COMMON="-target both -runs $RUNS -max-load $MAXLOAD -load-wait ${WAIT}s -gateway $SRC/.bin/gateway -gateway-rev $REV $PEER"

if [ "$SCALE" = smoke ]; then
	LATENCY="-conns 200 -nodes 2 -rate 100 -duration 3s -warmup 1s -drain 2s"
	PUBLISH="-workers 16 -batch-workers 8 -batch 100 -duration 2s"
	FANOUT="-ramp -conns 200 -rate 10 -ramp-factor 2 -max-rate 40 -step 2s -drain 2s"
	FANOUT_RATE="-conns 200 -rate 20 -step 3s -drain 2s"
	MEMORY="-conns 200 -settle 2s"
	STORM="-conns 200 -per 20 -quiet 1s"
	STORM_DEEP="-conns 200 -per 200 -quiet 1s"
else
	LATENCY="-conns 2000 -nodes 2 -rate 500 -duration 20s"
	PUBLISH="-workers 16 -batch-workers 8 -batch 100 -duration 10s"
	FANOUT="-ramp -conns 5000 -rate 2 -ramp-factor 1.5 -step 10s"
	# CPU per delivery at one rate both sustain: 8 alarms/s × 5000 = 40k deliveries/s.
	FANOUT_RATE="-conns 5000 -rate 8 -step 10s"
	MEMORY="-conns 10000"
	STORM="-conns 2000 -per 20"
	# Deeper than the window (4x what the log keeps): resumes read Redis.
	STORM_DEEP="-conns 2000 -per 200"
fi

set -- ${*:-latency publish fanout fanout-rate memory storm storm-deep}
for w in "$@"; do
	case $w in
	latency) args="latency $LATENCY" ;;
	publish) args="publish $PUBLISH" ;;
	fanout) args="fanout $FANOUT" ;;
	fanout-rate) args="fanout $FANOUT_RATE" ;;
	memory) args="memory $MEMORY" ;;
	storm) args="storm $STORM" ;;
	storm-deep) args="storm $STORM_DEEP" ;;
	*)
		echo "compare.sh: unknown workload $w" >&2
		exit 2
		;;
	esac
	echo "== $w $(date -u +%FT%TZ) rev $REV scale $SCALE" | tee -a "$OUT/$w.txt"
	# shellcheck disable=SC2086
	"$SRC/.bin/loadgen" $args $COMMON 2>&1 | tee -a "$OUT/$w.txt" || echo "compare.sh: $w failed" >&2
done
"$SRC/.bin/loadgen" summarize "$OUT"/*.txt | tee "$OUT/summary.txt"
