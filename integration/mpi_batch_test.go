package integration

// MPI jobs and network namespaces in the batch system: an MPI job with
// periodic checkpoints survives a power cut, restarting from its newest
// generation; a job with qsub -l net=private (or #PBS -l net=private, or
// its queue's net_default) runs with loopback only, and the same image of
// a TCP server and client restarts twice at once without a port collision.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBatchMPIPowerCut: mpirun -np 4 as a batch job checkpointed every
// second (checkpoint_hour = 1s, -c 1); after a power cut the daemon
// restarts it from its newest generation and it ends as an uninterrupted
// run. The job runs in a network namespace of its own (-l net=private):
// a power cut closes the tree's connections the ordinary way, and the
// accepted ends left in TIME_WAIT on a listener's port (Open MPI's
// daemons, MPICH's hydra) would keep the restarted listener from binding
// it in the host's namespace; in a fresh one there is none.
func TestBatchMPIPowerCut(t *testing.T) {
	t.Parallel()
	heavy(t)
	for _, f := range mpiFlavours {
		t.Run(f.name, func(t *testing.T) {
			exe := mpiBuild(t, f)
			mpiCleanShm(t)
			b := newBatch(t, ckptConf)
			const steps = 300
			ref := filepath.Join(b.work, "ref.txt")
			want := mpiReference(t, b.work, f.command(exe, ref, steps, 0), ref)
			out := filepath.Join(b.work, f.name+".txt")
			args := f.command(exe, out, steps, mpiDelay)
			script := b.script(f.name+".sh", fmt.Sprintf("#!/bin/sh\nexport TMPDIR=%s\n%s\necho mpi over\n", b.work, strings.Join(args, " ")))
			id := b.qsub("-c", "1", "-l", "net=private", script)
			b.waitFor("a second periodic checkpoint", func() bool {
				j := b.job(id)
				if j.State == "finished" || j.State == "failed" {
					t.Fatalf("the job ended before its second checkpoint: %+v", j)
				}
				return len(j.Checkpoints) > 0 && j.Checkpoints[0].N >= 2
			})
			b.crash()
			newest := 0
			for _, g := range b.jobOffline(id) {
				newest = max(newest, g)
			}
			if fileLines(out) >= steps {
				t.Fatalf("the run was over before the power cut")
			}
			b.start()
			j := b.waitState(id, "finished", "failed")
			if j.State != "finished" || len(j.Segments) < 2 {
				t.Fatalf("job after the power cut: %+v", j)
			}
			if s := j.Segments[1]; !s.Restart || s.Generation != newest {
				t.Errorf("the second run %+v: want a restart from the newest checkpoint %d", s, newest)
			}
			mpiWaitOutput(t, out, want)
			if got := b.readFile(filepath.Join(b.work, fmt.Sprintf("%s.sh.o%d", f.name, id))); !strings.HasSuffix(got, "mpi over\n") {
				t.Errorf("the script's output: %q", got)
			}
		})
	}
}

// jobOffline lists the checkpoint generations of job id kept in the spool
// while the daemon is down.
func (b *batch) jobOffline(id uint64) []int {
	var gens []int
	dirs, _ := filepath.Glob(filepath.Join(b.home, "spool", jobArg(id)+".ckpt", "*"))
	for _, d := range dirs {
		var n int
		if _, err := fmt.Sscan(filepath.Base(d), &n); err == nil {
			gens = append(gens, n)
		}
	}
	return gens
}

// netProbe is a job script that lists the network interfaces it sees and
// checks that loopback works (a TCP connection to itself).
const netProbe = `#!/bin/sh
%s
tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' '
echo
python3 -c '
import socket
l = socket.create_server(("127.0.0.1", 0))
c = socket.create_connection(l.getsockname())
s, _ = l.accept()
c.sendall(b"lo works")
print(s.recv(8).decode())
'
`

// TestBatchNetPrivate: qsub -l net=private, #PBS -l net=private and a
// queue's net_default put the job in a network namespace with loopback
// only, up; a job without sees the host's interfaces.
func TestBatchNetPrivate(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	host, _ := os.ReadFile("/proc/net/dev")
	hostIfs := strings.Count(string(host), "\n") - 2
	b.mustRun("qmgr", "-c", "create queue private")
	b.mustRun("qmgr", "-c", "set queue private net_default = private")
	if got := b.mustRun("qmgr", "-c", "list queue private"); !strings.Contains(got, "net_default = private") {
		t.Errorf("qmgr list queue private:\n%s", got)
	}
	for _, tc := range []struct {
		name, directive string
		opts            []string
		private         bool
	}{
		{"option", "", []string{"-l", "net=private"}, true},
		{"directive", "#PBS -l net=private", nil, true},
		{"queue", "", []string{"-q", "private"}, true},
		{"queue-overridden", "", []string{"-q", "private", "-l", "net=host"}, false},
		{"host", "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := b.script(tc.name+".sh", fmt.Sprintf(netProbe, tc.directive))
			id := b.qsub(append(tc.opts, script)...)
			j := b.waitState(id, "finished", "failed")
			got := b.readFile(filepath.Join(b.work, fmt.Sprintf("%s.sh.o%d", tc.name, id)))
			if j.State != "finished" || !strings.HasSuffix(got, "lo works\n") {
				t.Fatalf("job %+v wrote %q", j, got)
			}
			ifs := strings.Fields(strings.SplitN(got, "\n", 2)[0])
			switch {
			case tc.private && (len(ifs) != 1 || ifs[0] != "lo"):
				t.Errorf("interfaces %v, want lo only", ifs)
			case !tc.private && len(ifs) != hostIfs:
				t.Errorf("interfaces %v, want the host's %d", ifs, hostIfs)
			}
			if want := "Resource_List.net = private"; tc.private != strings.Contains(b.mustRun("qstat", "-x", "-f", jobArg(id)), want) {
				t.Errorf("qstat -f of job %d: %s there is %v, want %v", id, want, !tc.private, tc.private)
			}
		})
	}
}

// TestBatchNetPrivateTwoRestarts: a job of a TCP server and its client on
// a fixed port, in a network namespace of its own, checkpointed and
// stopped (qchkpnt -k -h); its image is then restarted twice at once, as
// two new jobs (qrestart -f) of a queue whose jobs get net=private: each
// restart rebinds the same port in a fresh namespace, both end as an
// uninterrupted run (the two write the same bytes at the same offsets of
// one output file). In one namespace the second listener could not bind.
func TestBatchNetPrivateTwoRestarts(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	exe := filepath.Join(b.work, "tcpjob")
	if out, err := exec.Command("gcc", "-O2", "-o", exe, filepath.Join("testdata", "mpi", "tcpjob.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc tcpjob: %v\n%s", err, out)
	}
	const steps, port = 120, "47123"
	ref := filepath.Join(b.work, "ref.txt")
	refCmd := exec.Command("unshare", "-n", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh", exe, ref, strconv.Itoa(steps), "0", port)
	if out, err := refCmd.CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(ref)
	out := filepath.Join(b.work, "tcp.txt")
	id := b.qsub("-l", "net=private", b.script("tcp.sh", fmt.Sprintf("#!/bin/sh\n%s %s %d 50 %s\n", exe, out, steps, port)))
	b.waitState(id, "running")
	b.waitLines(out, 10)
	if r := b.run("qchkpnt", "-k", "-h", jobArg(id)); r.code != 0 {
		t.Fatalf("qchkpnt -k -h: %v", r)
	}
	j := b.waitState(id, "held")
	if len(j.Checkpoints) == 0 || j.Checkpoints[0].Image == "" {
		t.Fatalf("the held job has no image: %+v", j)
	}
	if fileLines(out) >= steps {
		t.Fatal("the job was over before its checkpoint")
	}
	b.mustRun("qmgr", "-c", "create queue private")
	b.mustRun("qmgr", "-c", "set queue private net_default = private")
	var ids []uint64
	for _, name := range []string{"one", "two"} {
		r := b.run("qrestart", "-f", j.Checkpoints[0].Image, "-q", "private", "-N", name, "-h")
		if r.code != 0 {
			t.Fatalf("qrestart -f: %v", r)
		}
		n, err := parseJobID(r.stdout)
		if err != nil {
			t.Fatalf("qrestart -f printed %q", r.stdout)
		}
		ids = append(ids, n)
	}
	// Released together: both restart at once.
	b.mustRun("qrls", jobArg(ids[0]), jobArg(ids[1]))
	for _, n := range ids {
		j := b.waitState(n, "finished", "failed")
		if j.State != "finished" || len(j.Segments) != 1 || !j.Segments[0].Restart {
			t.Errorf("restarted job %d: %+v", n, j)
		}
	}
	if got, _ := os.ReadFile(out); string(got) != string(want) {
		t.Errorf("output after the two restarts %q, want %q", tailOf(string(got)), tailOf(string(want)))
	}
}
