#!/bin/sh
# Installs the peer loadgen compares the gateway with: Centrifugo v6,
# built with `go install` into a folder outside the repository
# (default ~/.cache/alarmgate-peer/bin). Never run in CI; nothing of it is
# committed. loadgen finds it there (or via $CENTRIFUGO_BIN / -centrifugo).
# Usage: docs/bench/peer.sh            (VERSION=v6.9.1 BIN=<dir> override)
set -eu
VERSION=${VERSION:-v6.9.1}
BIN=${BIN:-${HOME}/.cache/alarmgate-peer/bin}
MODULE=github.com/centrifugal/centrifugo/v6

if [ -n "${CI:-}" ]; then
	echo "peer.sh: not in CI (the peer is for local measurements only)" >&2
	exit 1
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
case "$BIN/" in
"$ROOT"/*)
	echo "peer.sh: BIN=$BIN is inside the repository; choose a folder outside it" >&2
	exit 1
	;;
esac
mkdir -p "$BIN"

if [ -x "$BIN/centrifugo" ] && go version -m "$BIN/centrifugo" 2>/dev/null | grep -q "mod[[:space:]]*$MODULE[[:space:]]*$VERSION[[:space:]]"; then
	echo "$BIN/centrifugo is already $VERSION"
	exit 0
fi
# Outside the module, so that go.mod and go.sum stay untouched.
cd "$BIN"
GOBIN="$BIN" GOFLAGS= go install "$MODULE@$VERSION"
go version -m "$BIN/centrifugo" | grep "mod[[:space:]]*$MODULE"
echo "installed $BIN/centrifugo"
