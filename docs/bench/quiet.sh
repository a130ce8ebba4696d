# quiet waits up to WAIT seconds for the 1-minute load average to drop
# below MAXLOAD: the benchmark scripts source it before each run.
quiet() {
	i=0
	while [ "$i" -lt "$WAIT" ]; do
		awk -v max="$MAXLOAD" '{ exit !($1 < max) }' /proc/loadavg && return 0
		sleep 5
		i=$((i + 5))
	done
	echo "load still $(cut -d' ' -f1 /proc/loadavg) after ${WAIT}s; running anyway" >&2
}
