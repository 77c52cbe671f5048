package ckpt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// subCgroup makes a cgroup below ours in the first hierarchy that lets us,
// and returns its directory (removed at the end of the test).
func subCgroup(t *testing.T) string {
	t.Helper()
	ours := map[string]string{} // hierarchy's controllers ("" for cgroup2) -> our path
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 {
			ours[f[1]] = f[2]
		}
	}
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer mi.Close()
	var tried []string
	sc := bufio.NewScanner(mi)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		i := strings.Index(sc.Text(), " - ")
		if i < 0 || len(f) < 5 || f[3] != "/" {
			continue
		}
		tail := strings.Fields(sc.Text()[i+3:])
		if len(tail) < 3 {
			continue
		}
		var key string
		switch tail[0] {
		case "cgroup2":
		case "cgroup":
			// The controllers of a v1 hierarchy are its super options.
			var ctl []string
			for _, o := range strings.Split(tail[2], ",") {
				if (o != "rw" && o != "ro" && !strings.Contains(o, "=")) || strings.HasPrefix(o, "name=") {
					ctl = append(ctl, o)
				}
			}
			key = strings.Join(ctl, ",")
		default:
			continue
		}
		path, ok := ours[key]
		if !ok {
			continue
		}
		dir := filepath.Join(f[4], path, fmt.Sprintf("lazarus-test-%d", os.Getpid()))
		if err := os.Mkdir(dir, 0o755); err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", dir, err))
			continue
		}
		t.Cleanup(func() { os.Remove(dir) })
		return dir
	}
	t.Fatalf("no cgroup hierarchy to make a cgroup in: %v", tried)
	return ""
}

// TestCgroupNSMoved: a process that moved out of the root of its cgroup
// namespace (to a cgroup below it) is refused at checkpoint, naming the
// line of /proc/PID/cgroup it sees, and keeps running; the restart could
// not show it that view.
func TestCgroupNSMoved(t *testing.T) {
	needRoot(t)
	dir := subCgroup(t)
	cmd := start(t, t.TempDir(), "unshare", "-C", "sh", "-c", fmt.Sprintf("echo $$ > %s/cgroup.procs && exec sleep 1000", dir))
	name := filepath.Base(dir)
	waitFor(t, "the move", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
		c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid))
		return strings.Contains(string(b), name) && string(c) == "sleep\n"
	})
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	_, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: filepath.Join(t.TempDir(), "img"), Tree: true})
	var ue *UncheckpointableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "is in a cgroup other than the root of its cgroup namespace") || !strings.Contains(err.Error(), ":/"+name) {
		t.Fatalf("checkpoint: %v, want it refused naming /%s", err, name)
	}
	if st, err := readStat(cmd.Process.Pid); err != nil || st.State == 'T' || st.State == 't' {
		t.Errorf("after the refused checkpoint: %v %+v", err, st)
	}
}

func TestOffRoot(t *testing.T) {
	for _, c := range []struct{ view, want string }{
		{"0::/\n", ""},
		{"4:memory:/\n0::/\n", ""},
		{"4:memory:/\n0::/worker\n", "0::/worker"},
		{"1:cpu:/../other\n", "1:cpu:/../other"},
	} {
		if got := offRoot([]byte(c.view)); got != c.want {
			t.Errorf("offRoot(%q) = %q, want %q", c.view, got, c.want)
		}
	}
}
