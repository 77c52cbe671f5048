#!/usr/bin/env bash
# make demo-cluster: one queue over three nodes, on this machine. A
# single-member etcd (lazarusd etcd) holds the cluster's state; three node
# daemons (state directories and node names of their own, one shared
# directory for spool and checkpoint images) register with it and elect a
# server. An N-body simulation runs as a checkpointed batch job on one
# node; that node is then taken offline for maintenance (pbsnodes -o), and
# its job migrates: it is checkpointed, stopped and restarted on another
# node, where it finishes with exactly the result of an uninterrupted run.
# Exit status 1 if it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/bin
src=$PWD/integration/testdata/demo/nbody.c
if [ "$(id -u)" != 0 ]; then
	echo "demo-cluster: run it as root (sudo make demo-cluster): lazarusd runs each job in a PID namespace of its own and checkpoints it with ptrace" >&2
	exit 1
fi
for c in lazarusd qsub qstat pbsnodes; do
	[ -x "$bin/$c" ] || { echo "demo-cluster: $bin/$c is missing: run make demo-cluster (it builds first)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "demo-cluster: python3 is needed (to find free ports)" >&2; exit 1; }
export PATH=$bin:$PATH

demo=$(mktemp -d /tmp/lazarus-cluster-demo.XXXXXX)
chmod 755 "$demo"
shared=$demo/shared
work=$shared/work
mkdir -p "$shared" "$work"
etcd=
ref=
daemons=()
# Every process this demo started, found by its state directories: nothing
# else on the machine is touched.
ours() {
	local roots="" n
	for n in 1 2 3; do
		roots="$roots $(pgrep -f "lazarusd supervise $demo/node$n/" || true)"
	done
	roots="$roots ${daemons[*]:-} $etcd"
	roots=$(echo $roots)
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
on() { # on NODE COMMAND...: a command of node NODE (its LAZARUS_HOME)
	local n=$1
	shift
	LAZARUS_HOME=$demo/node$n "$@"
}
field() { on 1 qstat -c -f "$1" | sed -n "s/^    $2 = //p" | head -n 1; }
hostof() { # the node a job runs on, from any node's qstat -f
	local h
	h=$(on "$2" qstat -f "$1" | sed -n "s/^    exec_host = //p" | head -n 1)
	echo "${h%%/*}"
}
wait_until() { # wait_until SECONDS DESCRIPTION COMMAND...
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		if [ $SECONDS -gt $deadline ]; then
			echo "demo-cluster: timed out waiting for $what" >&2
			for n in 1 2 3; do echo "--- node$n log" >&2; tail -n 20 "$demo/node$n.log" >&2; done
			exit 1
		fi
		sleep 0.2
	done
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

steps=6000
say "Build the computation: an N-body simulation ($steps steps, 600 bodies)"
run gcc -O2 -o "$work/nbody" "$src" -lm
cd "$work"

say "Start a single-member etcd for the cluster's state (lazarusd etcd)"
client=http://127.0.0.1:$(port)
peer=http://127.0.0.1:$(port)
setsid lazarusd etcd --data-dir "$demo/etcd" --listen-client "$client" --listen-peer "$peer" >>"$demo/etcd.log" 2>&1 &
etcd=$!
disown
wait_until 60 "etcd to serve" grep -q serving "$demo/etcd.log"
cat "$demo/etcd.log"

say "Start three node daemons: node1, node2, node3 (each its own state directory; one shared directory)"
for n in 1 2 3; do
	mkdir -p "$demo/node$n"
	cat >"$demo/node$n/lazarus.conf" <<EOF
etcd_endpoints = $client
# The trial etcd is plain http on loopback: any local user could write
# to it (see etcd_insecure in the README). A demo only.
etcd_insecure = true
etcd_prefix = /demo
shared_dir = $shared
node_name = node$n
node_ttl = 5s
slots = 2
# For the demonstration, an hour of a checkpoint interval lasts 2 seconds.
checkpoint_hour = 2s
EOF
	LAZARUS_HOME=$demo/node$n setsid lazarusd >>"$demo/node$n.log" 2>&1 &
	daemons+=($!)
	disown
done
wait_until 60 "three nodes" sh -c "LAZARUS_HOME=$demo/node1 pbsnodes -a 2>/dev/null | grep -c '^node[0-9]' | grep -qx 3"
run on 1 pbsnodes -a

say "Submit the simulation from node1, checkpointed every hour (qsub -c 1); a reference copy runs outside the batch system"
cat >nbody.sh <<EOF
#!/bin/sh
echo "simulation starts on \$(cat \$PBS_NODEFILE)"
./nbody result.txt $steps
echo "simulation done"
EOF
chmod +x nbody.sh
./nbody reference.txt $steps </dev/null >/dev/null 2>&1 &
ref=$!
id=$(run on 1 qsub -c 1 -j oe nbody.sh)
num=${id%%.*}
echo "job id: $id"
wait_until 60 "the job to run" sh -c "LAZARUS_HOME=$demo/node2 qstat -c $id | grep -q running"
host=$(hostof "$id" 2)
echo "the server placed it on $host"
run on 2 qstat -c -n

say "Watch it checkpoint into the shared directory (every node can read the images)"
wait_until 120 "two checkpoints" sh -c "LAZARUS_HOME=$demo/node1 qstat -c -f $id | grep -q '^    checkpoint 2 ='"
on 1 qstat -c -f "$id" | grep -E '^    (exec_host|checkpoints|checkpoint [0-9]+) ='
echo "the simulation is at: $(tail -n 1 result.txt)"

other=1
[ "$host" = node1 ] && other=2
say "Maintenance: take $host offline (pbsnodes -o, from node$other); its checkpointable job migrates"
run on $other pbsnodes -o -C "kernel update" "$host"
moved() { local h; h=$(hostof "$id" $other); [ -n "$h" ] && [ "$h" != "$host" ]; }
wait_until 180 "the job to migrate" moved
now=$(hostof "$id" $other)
echo "the job now runs on $now"
on $other qstat -c -f "$id" | grep -E '^    (state|run [0-9]+) ='
run on $other pbsnodes -a

say "Let it finish"
wait_until 300 "the job to finish" sh -c "LAZARUS_HOME=$demo/node$other qstat -c $id | grep -Eq 'finished|failed'"
wait "$ref" || true
ref=
on $other qstat -c -f "$id" | grep -E '^    (state|reason|run [0-9]+|total) ='
echo "its output:"
sed 's/^/    /' "nbody.sh.o$num"
run on $other pbsnodes -r "$host"

say "Compare with the uninterrupted run"
echo "reference: $(tail -n 1 reference.txt)"
echo "batch job: $(tail -n 1 result.txt)"
if [ "$(field "$id" state)" = finished ] && cmp -s reference.txt result.txt; then
	echo "identical: the job moved from $host to $now during the run and finished with the same result, byte for byte"
else
	echo "DIFFERENT: the migrated job's result differs from the uninterrupted run" >&2
	exit 1
fi
