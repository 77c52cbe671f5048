#!/usr/bin/env bash
# make demo: a real computation is checkpointed while it runs, killed as a
# crash would kill it, restarted from its image, and finishes with exactly
# the result of an uninterrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/bin
if [ "$(id -u)" != 0 ]; then
	echo "demo: run it as root (sudo make demo): the engine ptraces the job and gives it back its pid" >&2
	exit 1
fi
work=$(mktemp -d /tmp/lazarus-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
# run starts a program with nothing open but stdin, stdout and stderr: a
# descriptor inherited from whatever started the demo (a pipe, a socket)
# would be outside the checkpointed process and make chkpnt refuse it.
run() {
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec "$@" </dev/null >/dev/null 2>&1
	) &
}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
steps=6000

gcc -O2 -o "$work/nbody" integration/testdata/demo/nbody.c -lm
cd "$work"

say "Start two copies of an N-body simulation ($steps steps, ~10 s): a reference and the job"
run ./nbody reference.txt $steps
ref=$!; pids+=("$ref")
run ./nbody job.txt $steps
job=$!; pids+=("$job")
echo "reference pid $ref, job pid $job"
while [ "$(wc -l <job.txt 2>/dev/null || echo 0)" -lt 60 ]; do sleep 0.2; done
tail -n 1 job.txt

say "Checkpoint the running job: chkpnt -v $job"
"$bin/chkpnt" -v "$job" 2>chkpnt.log || { cat chkpnt.log >&2; exit 1; }
grep -v 'region 0x' chkpnt.log
ls -ls "nbody.$job"
echo "the job keeps running..."
sleep 2
tail -n 1 job.txt

say "Power cut: kill -9 the job"
kill -9 "$job"
wait "$job" 2>/dev/null || true
echo "job.txt stops at: $(tail -n 1 job.txt)"

say "Restart it from its image: restart nbody.$job (waits for it to finish)"
echo "(restart warns that job.txt changed since the checkpoint: the job wrote on after it;"
echo " restarted, it goes on writing from the offset it had at the checkpoint)"
"$bin/restart" "nbody.$job"
echo "restart exit status $?"
wait "$ref"

say "Compare with the uninterrupted run"
tail -n 1 reference.txt
tail -n 1 job.txt
if cmp -s reference.txt job.txt; then
	echo "identical: the restarted job finished with the same result, byte for byte"
else
	echo "DIFFERENT: the restarted job's output differs from the reference" >&2
	exit 1
fi
