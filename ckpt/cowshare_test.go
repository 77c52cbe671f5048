package ckpt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestForkShared: a parent fills 64 MiB and forks 8 children that share
// it copy on write, each changing a small slice. The images hold the
// shared memory once; the restarted tree shares it again (its total PSS
// is near one copy, not nine), and every process finds every word of its
// memory as it was. Also with threads in every process inside a PID
// namespace, with a lazy restore, and for a child restarted alone (its
// pages then come from its parent's image).
func TestForkShared(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "cowfork", "-pthread")
	const mib, kids = 64, 8
	const one = mib << 20
	for _, tt := range []struct {
		name    string
		threads bool
		ns      bool
		lazy    bool
	}{
		{name: "fork"},
		{name: "threads-pidns", threads: true, ns: true},
		{name: "lazy", lazy: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			th := "0"
			if tt.threads {
				th = "1"
			}
			cmd := exec.Command(prog, strconv.Itoa(mib), strconv.Itoa(kids), th, dir)
			if tt.ns {
				cmd = Namespaced(cmd)
			}
			cmd.Dir = dir
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			waitFor(t, "ready", func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil })
			before := treePSS(t, cmd.Process.Pid, kids+1)
			img := filepath.Join(dir, "cow")
			res := checkpointTreeKill(t, cmd, img)
			t.Logf("tree PSS before checkpoint %d MiB; images hold %d MiB of memory for %d processes", before>>20, res.Memory>>20, len(res.Images))
			if res.Memory > 2*one {
				t.Errorf("images hold %d MiB of memory, want under %d MiB (the shared %d MiB once)", res.Memory>>20, 2*mib, mib)
			}
			p, err := Restart(context.Background(), img, RestartOptions{Lazy: tt.lazy})
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			after := treePSS(t, p.PID, kids+1)
			t.Logf("tree PSS after restart %d MiB (one copy: %d MiB, one per process: %d MiB)", after>>20, mib, (kids+1)*mib)
			if after > 3*one {
				t.Errorf("restarted tree's PSS is %d MiB, want under %d MiB: its memory is not shared", after>>20, 3*mib)
			}
			unix.Kill(p.PID, unix.SIGUSR1)
			if ws := waitProc(t, p); ws.ExitStatus() != 0 {
				t.Errorf("restarted tree: %v, want exit 0 (every process's memory as it was)", ws)
			}
			for k := 0; k < kids; k++ {
				b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("child.%d", k)))
				if string(b) != "ok\n" {
					t.Errorf("child %d says %q, want ok", k, b)
				}
			}
			if tt.name != "fork" {
				return
			}
			// A child alone: its shared pages come from its parent's image.
			for k := 0; k < kids; k++ {
				os.Remove(filepath.Join(dir, fmt.Sprintf("child.%d", k)))
			}
			child := res.Images[len(res.Images)-1]
			cp, err := Restart(context.Background(), child, RestartOptions{})
			if err != nil {
				t.Fatalf("restart %s alone: %v", child, err)
			}
			unix.Kill(cp.PID, unix.SIGUSR1)
			if ws := waitProc(t, cp); ws.ExitStatus() != 0 {
				t.Errorf("child %s restarted alone: %v, want exit 0", child, ws)
			}
			got, _ := filepath.Glob(filepath.Join(dir, "child.*"))
			if len(got) != 1 {
				t.Fatalf("the child restarted alone left %v, want one child.K", got)
			}
			if b, _ := os.ReadFile(got[0]); string(b) != "ok\n" {
				t.Errorf("the child restarted alone says %q, want ok", b)
			}
		})
	}
}

// treePSS sums the proportional set size of the process tree under root,
// which must have want members.
func treePSS(t *testing.T, root, want int) uint64 {
	t.Helper()
	pids := []int{root}
	for i := 0; i < len(pids); i++ {
		pids = append(pids, childrenOf(pids[i])...)
	}
	if len(pids) != want {
		t.Fatalf("tree of %d has %d processes %v, want %d", root, len(pids), pids, want)
	}
	var total uint64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Pss:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}
