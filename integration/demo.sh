#!/usr/bin/env bash
# make demo: the batch system keeps a long computation alive through a power
# cut. A lazarusd on a temporary state directory runs an N-body simulation
# as a batch job, checkpointing it every "hour" (2 seconds here); then
# everything is killed at once, as a power cut would: the daemon, the job's
# supervisor and the job. The daemon's next start restarts the job from its
# newest checkpoint, and it finishes with exactly the result of an
# uninterrupted run. Exit status 1 if it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/bin
src=$PWD/integration/testdata/demo/nbody.c
if [ "$(id -u)" != 0 ]; then
	echo "demo: run it as root (sudo make demo): lazarusd runs each job in a PID namespace of its own and checkpoints it with ptrace" >&2
	exit 1
fi
for c in lazarusd qsub qstat qchkpnt; do
	[ -x "$bin/$c" ] || { echo "demo: $bin/$c is missing: run make demo (it builds first)" >&2; exit 1; }
done
export PATH=$bin:$PATH

demo=$(mktemp -d /tmp/lazarus-demo.XXXXXX)
chmod 755 "$demo"
export LAZARUS_HOME=$demo/state
work=$demo/work
mkdir -p "$LAZARUS_HOME" "$work"
daemon=
ref=
# Every process this demo started, found by its state directory: nothing
# else on the machine is touched.
ours() {
	local roots
	roots=$(pgrep -f "lazarusd supervise $LAZARUS_HOME/" || true)
	[ -n "$daemon" ] && roots="$roots $daemon"
	[ -n "$roots" ] || return 0
	ps -e -o pid=,ppid= | awk -v roots="$roots" '
		{ parent[$1] = $2 }
		END {
			n = split(roots, r, " ")
			for (i = 1; i <= n; i++) mine[r[i]] = 1
			do { more = 0; for (p in parent) if (!(p in mine) && (parent[p] in mine)) { mine[p] = 1; more = 1 } } while (more)
			for (p in mine) print p
		}'
}
cleanup() {
	set +e
	[ -n "$ref" ] && kill -9 "$ref" 2>/dev/null
	local pids
	pids=$(ours)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	sleep 0.2
	rm -rf "$demo"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*" >&2; "$@"; }
# state prints a job's state and, with a key, one line of qstat -f.
field() { qstat -c -f "$1" | sed -n "s/^    $2 = //p" | head -n 1; }
start_daemon() {
	setsid lazarusd >>"$demo/lazarusd.log" 2>&1 &
	daemon=$!
	disown # its death is the demo's doing: no job control message
	for _ in $(seq 100); do qstat -Q >/dev/null 2>&1 && return; sleep 0.1; done
	echo "demo: lazarusd did not start:" >&2
	cat "$demo/lazarusd.log" >&2
	exit 1
}
wait_until() { # wait_until SECONDS DESCRIPTION COMMAND...
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		if [ $SECONDS -gt $deadline ]; then
			echo "demo: timed out waiting for $what" >&2
			exit 1
		fi
		sleep 0.2
	done
}

steps=9000
say "Build the computation: an N-body simulation ($steps steps, 600 bodies)"
run gcc -O2 -o "$work/nbody" "$src" -lm
cd "$work"

say "Start lazarusd on a temporary state directory"
cat >"$LAZARUS_HOME/lazarus.conf" <<'EOF'
# For the demonstration, an hour of a checkpoint interval lasts 2 seconds.
checkpoint_hour = 2s
EOF
start_daemon
echo "LAZARUS_HOME=$LAZARUS_HOME, lazarusd pid $daemon"

say "Submit the simulation, checkpointed every hour (qsub -c 1), and run a reference copy outside the batch system"
cat >nbody.sh <<EOF
#!/bin/sh
echo "simulation starts in \$PWD"
./nbody result.txt $steps
echo "simulation done"
EOF
chmod +x nbody.sh
./nbody reference.txt $steps </dev/null >/dev/null 2>&1 &
ref=$!
id=$(run qsub -c 1 -j oe nbody.sh)
num=${id%%.*} # qsub prints N.SERVER; files are named with N
echo "job id: $id"
wait_until 60 "the job to run" sh -c "qstat -c $id | grep -q running"
run qstat
run qstat -c

say "Watch it checkpoint: every 2 seconds the whole job (its shell and nbody) is saved, and the newest 2 generations are kept"
wait_until 90 "two checkpoints" sh -c "qstat -c -f $id | grep -q '^    checkpoint 2 ='"
run qstat -c
qstat -c -f "$id" | grep -E '^    (checkpoint policy|checkpoint every|next checkpoint|checkpoints|checkpoint [0-9]+) ='
echo "the simulation is at: $(tail -n 1 result.txt)"

say "Power cut: every process of lazarusd, the job's supervisor and the job is killed at once (kill -9)"
pids=$(ours)
echo "processes: $(echo $pids)"
kill -STOP $pids 2>/dev/null || true # nothing moves, nothing forks...
kill -9 $pids 2>/dev/null || true    # ...then all die together
daemon=
sleep 0.5
echo "result.txt stops at: $(tail -n 1 result.txt)"
echo "checkpoint generations on disk: $(ls "$LAZARUS_HOME/spool/$num.ckpt" | tr '\n' ' ')"

say "Start lazarusd again: the job's run was lost, and it restarts from its newest checkpoint"
start_daemon
wait_until 60 "the restart" sh -c "grep -q 'job restarting from a checkpoint' '$demo/lazarusd.log'"
grep -E 'job run lost|job restarting from a checkpoint' "$demo/lazarusd.log" | sed 's/^time=[^ ]* //'
run qstat -c
qstat -c -f "$id" | grep -E '^    (state|run [0-9]+) ='

say "Let it finish"
wait_until 300 "the job to finish" sh -c "qstat -c $id | grep -Eq 'finished|failed'"
wait "$ref" || true
ref=
qstat -c -f "$id" | grep -E '^    (state|reason|run [0-9]+|total) ='
echo "its output:"
sed 's/^/    /' "nbody.sh.o$num"

say "Compare with the uninterrupted run"
echo "reference: $(tail -n 1 reference.txt)"
echo "batch job: $(tail -n 1 result.txt)"
if [ "$(field "$id" state)" = finished ] && cmp -s reference.txt result.txt; then
	echo "identical: the job survived the power cut and finished with the same result, byte for byte"
else
	echo "DIFFERENT: the restarted job's result differs from the uninterrupted run" >&2
	exit 1
fi
kill "$daemon" 2>/dev/null || true
daemon=
