package ckpt

import (
	"context"
	"errors"
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
// namespace, with a lazy restore, with a grandchild (sharing through its
// parent), and for a child restarted alone (its pages then come from its
// parent's image).
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
		deep    bool // child 0 forks a grandchild
		live    bool // checkpointed running (copy-on-write twins), then killed
	}{
		{name: "fork"},
		{name: "twins", live: true},
		{name: "threads-pidns", threads: true, ns: true},
		{name: "lazy", lazy: true},
		{name: "grandchild", deep: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			th := "0"
			if tt.threads {
				th = "1"
			}
			deep, members := "0", kids+1
			if tt.deep {
				deep, members = "1", kids+2
			}
			cmd := exec.Command(prog, strconv.Itoa(mib), strconv.Itoa(kids), th, dir, deep)
			if tt.ns {
				cmd = Namespaced(cmd)
			}
			cmd.Dir = dir
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			waitFor(t, "ready", func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil })
			before := treePSS(t, cmd.Process.Pid, members)
			img := filepath.Join(dir, "cow")
			var res *CheckpointResult
			if tt.live {
				var err error
				if res, err = Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true}); err != nil {
					t.Fatalf("checkpoint: %v", err)
				}
				// Its children go with it (PR_SET_PDEATHSIG).
				cmd.Process.Kill()
				cmd.Wait()
				waitReaped(t, res)
			} else {
				res = checkpointTreeKill(t, cmd, img)
			}
			t.Logf("tree PSS before checkpoint %d MiB; images hold %d MiB of memory for %d processes", before>>20, res.Memory>>20, len(res.Images))
			if res.Memory > 2*one {
				t.Errorf("images hold %d MiB of memory, want under %d MiB (the shared %d MiB once)", res.Memory>>20, 2*mib, mib)
			}
			p, err := Restart(context.Background(), img, RestartOptions{Lazy: tt.lazy})
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			after := treePSS(t, p.PID, members)
			t.Logf("tree PSS after restart %d MiB (one copy: %d MiB, one per process: %d MiB)", after>>20, mib, members*mib)
			if after > 3*one {
				t.Errorf("restarted tree's PSS is %d MiB, want under %d MiB: its memory is not shared", after>>20, 3*mib)
			}
			unix.Kill(p.PID, unix.SIGUSR1)
			if ws := waitProc(t, p); ws.ExitStatus() != 0 {
				t.Errorf("restarted tree: %v, want exit 0 (every process's memory as it was)", ws)
			}
			for k := 0; k < members-1; k++ {
				b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("child.%d", k)))
				if string(b) != "ok\n" {
					t.Errorf("child %d says %q, want ok", k, b)
				}
			}
			if tt.name != "fork" && !tt.deep {
				return
			}
			// A child alone (with the grandchild: child 0 and its child):
			// its shared pages come from its parent's image, and the
			// grandchild shares them with it again.
			for k := 0; k < members-1; k++ {
				os.Remove(filepath.Join(dir, fmt.Sprintf("child.%d", k)))
			}
			child, want := res.Images[len(res.Images)-1], 1
			for _, path := range res.Images[1:] {
				if img, err := ReadImage(path); err == nil && len(img.Children()) > 0 {
					child, want = path, 2
				}
			}
			cp, err := Restart(context.Background(), child, RestartOptions{})
			if err != nil {
				t.Fatalf("restart %s alone: %v", child, err)
			}
			if pss := treePSS(t, cp.PID, want); pss > 3*one {
				t.Errorf("%s restarted alone: PSS %d MiB, want under %d MiB", child, pss>>20, 3*mib)
			}
			unix.Kill(cp.PID, unix.SIGUSR1)
			if ws := waitProc(t, cp); ws.ExitStatus() != 0 {
				t.Errorf("%s restarted alone: %v, want exit 0", child, ws)
			}
			got, _ := filepath.Glob(filepath.Join(dir, "child.*"))
			if len(got) != want {
				t.Fatalf("%s restarted alone left %v, want %d child.K", child, got, want)
			}
			for _, g := range got {
				if b, _ := os.ReadFile(g); string(b) != "ok\n" {
					t.Errorf("%s says %q, want ok", g, b)
				}
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

// TestForkSharedForged: inherited runs are checked like segments: only in
// private anonymous memory, page-aligned, in order, inside their region,
// apart from its saved segments, with a parent image named by a plain
// name. Each forgery is corrupt with every checksum made right.
func TestForkSharedForged(t *testing.T) {
	good := syntheticImage(t, t.TempDir(), nil)
	base := parseRaw(t, good).meta(t).Regions[0].Start
	inherit := func(ss ...span) func(m *imageMeta) {
		return func(m *imageMeta) {
			m.CowParent = "synthetic"
			m.Regions[0].Inherit = ss
		}
	}
	forge := func(t *testing.T, edit func(m *imageMeta)) error {
		_, err := decodeBytes(parseRaw(t, good).editMeta(t, edit).bytes(true, false, nil), nil)
		return err
	}
	// A valid one: the pages around and between the saved segments.
	if err := forge(t, inherit(span{base, pageSize}, span{base + 3*pageSize, 5 * pageSize}, span{base + 11*pageSize, 5 * pageSize})); err != nil {
		t.Fatalf("valid inherited runs: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(m *imageMeta)
	}{
		{"overlaps-segment", inherit(span{base, 2 * pageSize})},
		{"unaligned", inherit(span{base + 3*pageSize + 1, pageSize})},
		{"empty", inherit(span{base + 3*pageSize, 0})},
		{"past-region", inherit(span{base + 11*pageSize, 6 * pageSize})},
		{"out-of-order", inherit(span{base + 4*pageSize, pageSize}, span{base + 3*pageSize, pageSize})},
		{"wraps", inherit(span{base + 12*pageSize, ^uint64(0) &^ (pageSize - 1)})},
		{"no-parent", func(m *imageMeta) { m.Regions[0].Inherit = []span{{base, pageSize}} }},
		{"parent-dotdot", func(m *imageMeta) { inherit(span{base, pageSize})(m); m.CowParent = "../x" }},
		{"shared-region", func(m *imageMeta) {
			m.CowParent = "synthetic"
			m.Regions[1].Inherit = []span{{m.Regions[1].Start, pageSize}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := forge(t, c.edit); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode: %v, want %v", err, ErrCorrupt)
			}
		})
	}
}

// TestWithoutSpans: the runs of pages a child saves are its runs less the
// ones it inherits.
func TestWithoutSpans(t *testing.T) {
	for _, c := range []struct {
		runs [][2]uint64
		ss   []span
		want [][2]uint64
	}{
		{[][2]uint64{{0, 10}}, nil, [][2]uint64{{0, 10}}},
		{[][2]uint64{{0, 10}}, []span{{0, 10}}, nil},
		{[][2]uint64{{0, 10}}, []span{{2, 3}}, [][2]uint64{{0, 2}, {5, 10}}},
		{[][2]uint64{{0, 10}, {20, 30}}, []span{{5, 20}}, [][2]uint64{{0, 5}, {25, 30}}},
		{[][2]uint64{{10, 20}}, []span{{0, 5}, {12, 1}, {18, 10}}, [][2]uint64{{10, 12}, {13, 18}}},
		{[][2]uint64{{0, 4}, {6, 8}}, []span{{4, 2}}, [][2]uint64{{0, 4}, {6, 8}}},
	} {
		got := withoutSpans(c.runs, c.ss)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("withoutSpans(%v, %v) = %v, want %v", c.runs, c.ss, got, c.want)
		}
	}
}

// waitReaped waits until the pid of every member of the checkpointed tree
// is free again.
func waitReaped(t *testing.T, res *CheckpointResult) {
	t.Helper()
	for _, img := range res.Images {
		m, err := ReadImage(img)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("old member %s(%d) to be reaped", m.Comm, m.PID), func() bool {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.PID))
			if err != nil {
				return true
			}
			st, err := parseStat(b)
			return err != nil || st.Comm != m.Comm
		})
	}
}
