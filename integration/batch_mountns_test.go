package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A job whose script runs a program in a mount namespace of its own
// (unshare -m, mounts private) is checkpointed, stopped and restarted:
// the program comes back in a mount namespace of its own again, not the
// job's (a mount it makes after the restart is not seen by the script),
// and its /proc is still the job's PID namespace's (the restart mounts
// that before the program copies the namespace).
func TestBatchMountNamespace(t *testing.T) {
	t.Parallel()
	batchNeedRoot(t)
	b := newBatch(t, "")
	inner := b.script("inner.sh", `#!/bin/sh
echo $$ > inner.pid
while [ ! -e go ]; do echo tick >> ticks; sleep 0.05; done
readlink /proc/self/ns/mnt > ns.inner
readlink /proc/$1/ns/mnt > ns.outer
read -r self rest < /proc/self/stat
echo $self > self.pid
mkdir -p sub
mount -t tmpfs lazarus-test sub
grep -c lazarus-test /proc/$1/mountinfo > outer.sees
grep -c lazarus-test /proc/self/mountinfo > inner.sees
umount sub
`)
	id := b.qsub("-j", "oe", "-o", filepath.Join(b.work, "job.out"), b.script("outer.sh", "#!/bin/sh\ncd "+b.work+"\nunshare -m --propagation private sh "+inner+" $$\necho end\n"))
	ticks := filepath.Join(b.work, "ticks")
	b.waitFor("the program to tick", func() bool { return strings.Count(b.readFile(ticks), "tick") >= 5 })
	b.mustRun("qchkpnt", "-k", jobArg(id))
	b.waitState(id, "running")
	n := strings.Count(b.readFile(ticks), "tick")
	b.waitFor("the restored program to tick", func() bool { return strings.Count(b.readFile(ticks), "tick") >= n+5 })
	os.WriteFile(filepath.Join(b.work, "go"), nil, 0o644)
	j := b.waitState(id, "finished", "failed")
	if j.State != "finished" || len(j.Segments) != 2 {
		t.Fatalf("job: %+v\n%s", j, b.readFile(filepath.Join(b.work, "job.out")))
	}
	get := func(name string) string { return strings.TrimSpace(b.readFile(filepath.Join(b.work, name))) }
	if in, out := get("ns.inner"), get("ns.outer"); in == "" || in == out {
		t.Errorf("after the restart the program's mount namespace is %q, the script's %q: want its own", in, out)
	}
	if get("self.pid") != get("inner.pid") {
		t.Errorf("after the restart /proc/self of the program is pid %q, its pid is %q: /proc is not the job's PID namespace's", get("self.pid"), get("inner.pid"))
	}
	if get("outer.sees") != "0" || get("inner.sees") != "1" {
		t.Errorf("a tmpfs the restored program mounted: seen %s times by the script (want 0), %s by itself (want 1)", get("outer.sees"), get("inner.sees"))
	}
}
