#!/bin/sh
# Profiles the gateway's hot paths under the same loads as compare.sh and
# writes CPU profiles (pprof) into OUT (default docs/bench/profiles):
#   publish-single: `loadgen publish -mode single -workers 16`
#   publish-batch:  `loadgen publish -mode batch -batch-workers 8 -batch 100`
#   latency:        `loadgen latency -conns 2000 -nodes 2 -rate 500` (node 1)
#   fanout:         `loadgen fanout -conns 5000 -rate 10` (50k deliveries/s)
#   storm:          `loadgen storm -conns 2000 -per 20`: node B over the 2 s
#                   from the first reconnect (the resume phase)
# Each other profile covers 10 s in the middle of a 25 s run, at the default
# configuration (pprof is served on its own loopback listener). Then:
#   go tool pprof -top docs/bench/profiles/<name>-cpu.pprof
# Usage: docs/bench/profile.sh [name ...]   (default: all five)
set -eu
cd "$(dirname "$0")/../.."
OUT=${OUT:-docs/bench/profiles}
BASE=${PPROF_BASE:-16070}
mkdir -p "$OUT"
BIN=$(mktemp -d /tmp/profile-XXXXXX)
trap 'rm -rf "$BIN"' EXIT
go build -o "$BIN/gateway" ./cmd/gateway
go build -o "$BIN/loadgen" ./cmd/loadgen

one() { # name loadgen-args...
	name=$1
	shift
	# shellcheck disable=SC2068
	"$BIN/loadgen" $@ -gateway "$BIN/gateway" -pprof-base "$BASE" >"$BIN/$name.log" 2>&1 &
	lg=$!
	sleep "${DELAY:-10}"
	curl -sf -o "$OUT/$name-cpu.pprof" "http://127.0.0.1:$BASE/debug/pprof/profile?seconds=10" ||
		echo "profile.sh: $name: no profile" >&2
	wait "$lg" || echo "profile.sh: $name: loadgen failed: $(tail -3 "$BIN/$name.log")" >&2
	grep '^RESULT' "$BIN/$name.log" || true
	go tool pprof -top -nodecount=25 "$BIN/gateway" "$OUT/$name-cpu.pprof" 2>/dev/null | sed -n '4,30p'
}

set -- ${*:-publish-single publish-batch latency fanout storm}
for w in "$@"; do
	case $w in
	publish-single) DELAY=8 one "$w" publish -mode single -workers 16 -duration 25s ;;
	publish-batch) DELAY=8 one "$w" publish -mode batch -batch-workers 8 -batch 100 -duration 25s ;;
	latency) DELAY=15 one "$w" latency -conns 2000 -nodes 2 -rate 500 -duration 25s ;;
	fanout) DELAY=15 one "$w" fanout -conns 5000 -rate 10 -step 25s ;;
	storm)
		"$BIN/loadgen" storm -conns 2000 -per 20 -gateway "$BIN/gateway" -pprof-base "$BASE" \
			-profile "$OUT/storm-resume-cpu.pprof" 2>&1 | grep -E '^(RESULT|storm: profile)' || true
		go tool pprof -top -nodecount=25 "$BIN/gateway" "$OUT/storm-resume-cpu.pprof" 2>/dev/null | sed -n '4,30p'
		;;
	*)
		echo "profile.sh: unknown profile $w" >&2
		exit 2
		;;
	esac
done
