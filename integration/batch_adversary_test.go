package integration

// What an ordinary user can do to the batch system with the options of
// qsub alone: each case was a hole, kept here so that it stays shut.

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A FIFO that nobody reads, given as the job's error (or output) file,
// kept the job's start in open(2) for ever: the job was never started,
// qdel could not end it (it had no process tree yet), and it held its
// slot until root killed the helper. It is refused now, as the job's
// start fails; a FIFO that a process reads is written to.
func TestBatchOutputFIFO(t *testing.T) {
	t.Parallel()
	b := newBatch(t, "")
	fifo := filepath.Join(b.work, "planted.fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	script := b.script("f.sh", "#!/bin/sh\necho out\necho err >&2\n")
	for _, args := range [][]string{{"-e", fifo}, {"-o", fifo}, {"-j", "oe", "-o", fifo}} {
		id := b.qsub(append(args, script)...)
		j := b.waitState(id, "finished", "failed")
		if j.State != "failed" || !strings.Contains(j.Reason, "cannot open output file "+fifo+": a FIFO that no process reads") {
			t.Errorf("qsub %s: job %+v, want failed for the FIFO", strings.Join(args, " "), j)
		}
	}
	// With a reader, the FIFO is the job's output. The test holds it open
	// for reading before the job starts (O_RDWR: open(2) does not wait,
	// and reads never see the end of file between writers).
	r, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	id := b.qsub("-j", "oe", "-o", fifo, script)
	if j := b.waitState(id, "finished", "failed"); j.State != "finished" {
		t.Errorf("job writing to a FIFO that is read: %+v", j)
	}
	lines := bufio.NewReader(r)
	for _, want := range []string{"out\n", "err\n"} {
		if got, err := lines.ReadString('\n'); got != want {
			t.Errorf("the FIFO's reader got %q (%v), want %q", got, err, want)
		}
	}
}
