package ckpt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSharedMemoryObjects checkpoints a parent and child sharing
// MAP_SHARED|MAP_ANONYMOUS memory and a memfd that is both open and
// mapped: after the restart the anonymous memory shows as it did
// (/dev/zero (deleted)), the memfd by its own name, each is one object
// for both processes (a write by the parent is seen by the child), and a
// write through the memfd's descriptor is seen in the mapping.
func TestSharedMemoryObjects(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := start(t, dir, cprog(t, "shmobj"), out)
	waitFor(t, "ready", func() bool { return lines(out) >= 1 })
	img := filepath.Join(dir, "shmobj.img")
	checkpointTreeKill(t, cmd, img)
	p, err := Restart(context.Background(), img, RestartOptions{PIDRetry: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", p.PID))
	if !strings.Contains(string(maps), "/dev/zero (deleted)") {
		t.Errorf("no /dev/zero (deleted) mapping after the restart:\n%s", maps)
	}
	if !strings.Contains(string(maps), "/memfd:lzmem (deleted)") {
		t.Errorf("no /memfd:lzmem mapping after the restart:\n%s", maps)
	}
	if strings.Contains(string(maps), "lazarus-shm") || strings.Contains(string(maps), "(deleted) (deleted)") {
		t.Errorf("a mapping of the restorer's own object:\n%s", maps)
	}
	var fdIno, mapIno uint64
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/fd/5", p.PID), &st); err == nil {
		fdIno = st.Ino
	}
	for _, l := range strings.Split(string(maps), "\n") {
		if strings.HasSuffix(l, "/memfd:lzmem (deleted)") {
			fs := strings.Fields(l)
			mapIno, _ = strconv.ParseUint(fs[4], 10, 64)
		}
	}
	if fdIno == 0 || fdIno != mapIno {
		t.Errorf("memfd: descriptor inode %d, mapping inode %d: not one object\n%s", fdIno, mapIno, maps)
	}
	unix.Kill(p.PID, unix.SIGUSR1)
	if ws := waitProc(t, p); ws.ExitStatus() != 0 {
		t.Fatalf("restarted: %v", ws)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), "anon 1 memfd 1 child 1") {
		t.Fatalf("after the restart: %q", b)
	}
}
