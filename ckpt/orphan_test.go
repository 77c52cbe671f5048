package ckpt

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCheckpointLeavesNoOrphans: a shell loop whose children live a few
// milliseconds (sleep), checkpointed as a tree again and again. A child
// that exits while the checkpoint still held something of it must not
// leave anything behind: a twin it had forked would go, a zombie, to the
// reaper of the namespace (here reaperwrap, which never collects, as some
// init processes do not), and stay in the job's process group, so that
// every later checkpoint is refused with a member outside the tree.
func TestCheckpointLeavesNoOrphans(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	wrap := exec.Command(cprog(t, "reaperwrap"), "bash", "-c", "while :; do sleep 0.01; done")
	out, err := wrap.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := wrap.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, pid := range childrenOf(wrap.Process.Pid) {
			unix.Kill(pid, unix.SIGKILL)
		}
		wrap.Process.Kill()
		wrap.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	shell, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		img := filepath.Join(dir, fmt.Sprintf("loop%d", i))
		// What the checkpoint said, for a failure only: 30 debug logs
		// of a shell would bury every other test's output.
		var logged strings.Builder
		if _, err := Checkpoint(context.Background(), shell, CheckpointOptions{Tree: true, File: img, Logger: slog.New(NewMessageHandler(&logged, "chkpnt: ", slog.LevelDebug))}); err != nil {
			t.Fatalf("checkpoint %d: %v\n%s", i, err, logged.String())
		}
	}
	for _, pid := range childrenOf(wrap.Process.Pid) {
		if pid == shell {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		t.Errorf("left to the reaper: %s(%d), state %c", strings.TrimSpace(string(comm)), pid, procState(pid))
	}
}
