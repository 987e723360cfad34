#!/usr/bin/env bash
# step.sh "WHAT" COMMAND...: say what is being done, run it, and say how long it took.
# Exits with the command's status.
set -u
what=$1
shift
echo "==> $what"
start=$(date +%s.%N)
# pip names every configured index folder that lacks a package ("WARNING: Location ... is
# ignored"): one line per package, hundreds in all, on machines with local package mirrors.
exec 3>&2
{ "$@" 2>&1 1>&4 | grep -v "^WARNING: Location '.*' is ignored" >&3; } 4>&1
status=${PIPESTATUS[0]}
end=$(date +%s.%N)
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
if [ "$status" -eq 0 ]; then
    echo "==> $what: done in ${secs} s"
else
    echo "==> $what: FAILED (exit $status) after ${secs} s" >&2
fi
exit "$status"
