#!/bin/sh
# Measures one gateway node on one Redis Cluster of three masters (no
# replicas; redis-server processes with cluster-enabled on free loopback
# ports, joined by redis-cli --cluster create) with GATEWAY_PARTITIONS=1
# and =3, alternately, RUNS times each (default 3), each run with a fresh
# GATEWAY_REDIS_PREFIX on a flushed Cluster:
#   users   batch publish (loadgen publish -mode batch, BATCH alarms per
#           request (default 100), 8 requests at a time) to USERS user channels
#           (default 10000): alarms/s, gateway CPU per alarm, Redis CPU per
#           alarm (the sum over the masters of the used_cpu_sys and
#           used_cpu_user deltas of INFO cpu, divided by the alarms
#           accepted) and each master's EVALSHA calls (INFO commandstats);
#   shared  the same with every alarm to broadcast, a shared channel: with
#           P partitions each is appended P times.
# Before each run it waits (up to WAIT seconds, default 120) for the
# 1-minute load average to drop below MAXLOAD (default 1.5). The gateway
# and loadgen are built from a clean export of HEAD (git archive);
# REV=<commit> measures another commit. Everything goes to
# OUT (default docs/bench/raw-partitions/<commit>/): loadgen's output per
# run, runs.txt (one PARTITIONS line per run) and summary.txt (medians and
# ranges).
# Usage: docs/bench/partitions.sh [users] [shared]   (default: both)
set -eu
cd "$(dirname "$0")/../.."
KINDS=${*:-users shared}
RUNS=${RUNS:-3}
WAIT=${WAIT:-120}
MAXLOAD=${MAXLOAD:-1.5}
USERS=${USERS:-10000}
DURATION=${DURATION:-10s}
BATCH=${BATCH:-100}
REV=$(git rev-parse --short "${REV:-HEAD}")
OUT=${OUT:-docs/bench/raw-partitions/$REV}
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/partitions-bench-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$TMP/src"
git archive "$REV" | tar -x -C "$TMP/src"
(cd "$TMP/src" && go build -o "$TMP/gateway" ./cmd/gateway && go build -o "$TMP/loadgen" ./cmd/loadgen)

# freeport prints a loopback port that is free with its cluster bus port
# (port + 10000).
freeport() {
	while :; do
		p=$(shuf -i 20000-29999 -n 1)
		ss -Htan | awk -v a=":$p\$" -v b=":$((p + 10000))\$" '$4 ~ a || $4 ~ b { f = 1 } END { exit f }' && {
			echo "$p"
			return
		}
	done
}

rcli() { redis-cli -h 127.0.0.1 -p "$@"; }

# The Cluster: three masters, 5461 slots each.
MASTERS=""
for i in 1 2 3; do
	p=$(freeport)
	mkdir -p "$TMP/redis-$p"
	redis-server --port "$p" --bind 127.0.0.1 --protected-mode no --save "" --appendonly no \
		--dir "$TMP/redis-$p" --cluster-enabled yes --cluster-config-file "$TMP/redis-$p/nodes.conf" \
		--logfile "$TMP/redis-$p.log" &
	PIDS="$PIDS $!"
	MASTERS="$MASTERS $p"
	for _ in $(seq 50); do rcli "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
# shellcheck disable=SC2086
set -- $MASTERS
redis-cli --cluster create "127.0.0.1:$1" "127.0.0.1:$2" "127.0.0.1:$3" --cluster-replicas 0 --cluster-yes >"$TMP/create.log"
for p in $MASTERS; do
	for _ in $(seq 100); do
		rcli "$p" cluster info | grep -q '^cluster_state:ok' && break
		sleep 0.1
	done
done
URL="redis://127.0.0.1:$1?addr=127.0.0.1:$2&addr=127.0.0.1:$3"

. docs/bench/quiet.sh # the scripts run from the repository root (cd above)

# masterstats prints, per master, "sys_seconds user_seconds evalsha_calls".
masterstats() {
	for p in $MASTERS; do
		cpu=$(rcli "$p" info cpu | tr -d '\r' | awk -F: '$1 == "used_cpu_sys" { s = $2 } $1 == "used_cpu_user" { u = $2 } END { print s, u }')
		ev=$(rcli "$p" info commandstats | tr -d '\r' | awk -F'[:=,]' '$1 == "cmdstat_evalsha" { print $3 }')
		echo "$cpu ${ev:-0}"
	done
}

# one KIND P N: one run of KIND (users or shared) with P partitions.
one() {
	kind=$1 parts=$2 n=$3
	for p in $MASTERS; do rcli "$p" flushall >/dev/null; done
	gp=$(freeport)
	env -i PATH="$PATH" GATEWAY_ADDR="127.0.0.1:$gp" GATEWAY_NODE_ID=bench-1 GATEWAY_REDIS_MODE=cluster \
		GATEWAY_REDIS_URL="$URL" GATEWAY_REDIS_PREFIX="bench-$kind-p$parts-r$n" GATEWAY_PARTITIONS="$parts" \
		GATEWAY_JWT_SECRET=loadgen-secret-0123456789abcdef GATEWAY_API_KEYS=loadgen-key-0123456789 \
		GATEWAY_LOG_LEVEL=warn GATEWAY_PUBLISH_RATE=-1 GATEWAY_CONNECT_RATE=-1 GATEWAY_DEMO=false \
		"$TMP/gateway" >"$TMP/gateway-$kind-$parts-$n.log" 2>&1 &
	gw=$!
	PIDS="$PIDS $gw"
	for _ in $(seq 200); do curl -sf "http://127.0.0.1:$gp/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
	quiet
	if [ "$kind" = users ]; then to="-users $USERS"; else to="-channel broadcast"; fi
	log="$OUT/$kind-p$parts-run$n.txt"
	echo "== partitions $kind P=$parts batch $BATCH run $n rev $REV $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$log"
	masterstats >"$TMP/before"
	# shellcheck disable=SC2086
	"$TMP/loadgen" publish -mode batch -batch "$BATCH" -batch-workers 8 -duration "$DURATION" $to \
		-targets "http://127.0.0.1:$gp" -pids "$gw" -gateway-rev "$REV" 2>&1 | tee -a "$log"
	masterstats >"$TMP/after"
	kill "$gw"
	wait "$gw" 2>/dev/null || true
	res=$(grep '^RESULT' "$log" | tail -1)
	val() { echo "$res" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
	paste -d' ' "$TMP/before" "$TMP/after" | awk -v kind="$kind" -v parts="$parts" -v n="$n" -v batch="$BATCH" \
		-v alarms="$(val batch_alarms)" -v rate="$(val batch_per_s)" -v gwus="$(val batch_cpu_us_per_alarm)" '
		{
			s = $4 - $1; u = $5 - $2; sys += s; cpu += s + u
			cpus = cpus sep sprintf("%.3f", s + u); ev = ev sep ($6 - $3); evs += $6 - $3; sep = "/"
		}
		END {
			printf "PARTITIONS kind=%s p=%d batch=%d run=%d alarms=%d per_s=%s gateway_us_per_alarm=%s redis_cpu_s=%.3f redis_sys_s=%.3f redis_cpu_s_per_master=%s redis_us_per_alarm=%.2f evalsha=%s evalsha_per_alarm=%.4f\n",
				kind, parts, batch, n, alarms, rate, gwus, cpu, sys, cpus, (alarms > 0 ? cpu * 1e6 / alarms : 0), ev, (alarms > 0 ? evs / alarms : 0)
		}' | tee -a "$log" >>"$OUT/runs.txt"
	tail -1 "$OUT/runs.txt"
}

: >"$OUT/runs.txt"
for kind in $KINDS; do
	for n in $(seq "$RUNS"); do
		for parts in 1 3; do
			one "$kind" "$parts" "$n"
		done
	done
done

# Medians and ranges per kind and P.
awk '
	/^PARTITIONS/ {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		k = f["kind"] " P=" f["p"]
		if (!(k in n)) order[++keys] = k
		i = ++n[k]
		per_s[k, i] = f["per_s"]; gw[k, i] = f["gateway_us_per_alarm"]; rus[k, i] = f["redis_us_per_alarm"]
		evpa[k, i] = f["evalsha_per_alarm"]; ev[k, i] = f["evalsha"]
		sysp[k, i] = f["redis_cpu_s"] > 0 ? sprintf("%.1f", 100 * f["redis_sys_s"] / f["redis_cpu_s"]) : 0
	}
	function med(a, k, m,   v, i, j, t) {
		for (i = 1; i <= m; i++) v[i] = a[k, i] + 0
		for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return sprintf("%g (%g-%g)", (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2, v[1], v[m])
	}
	END {
		printf "%-12s %-22s %-22s %-22s %-20s %-24s %s\n", "run", "alarms/s", "gateway µs/alarm", "Redis µs/alarm", "Redis sys %", "EVALSHA/alarm", "EVALSHA per master (each run)"
		for (o = 1; o <= keys; o++) {
			k = order[o]; m = n[k]; evs = ""
			for (i = 1; i <= m; i++) evs = evs (i > 1 ? " " : "") ev[k, i]
			printf "%-12s %-22s %-22s %-22s %-20s %-24s %s\n", k, med(per_s, k, m), med(gw, k, m), med(rus, k, m), med(sysp, k, m), med(evpa, k, m), evs
		}
	}' "$OUT/runs.txt" | tee "$OUT/summary.txt"
