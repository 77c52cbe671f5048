package supervisor

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// TestStartWhileProbed: Start of a run directory that another goroutine
// probes all the while (qstat's Probe takes the lock for a moment to tell
// whether a supervisor holds it) never fails "flock: resource temporarily
// unavailable", as a job's first start did in CI.
func TestStartWhileProbed(t *testing.T) {
	runDir := filepath.Join(t.TempDir(), "run")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				Probe(runDir)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := 0; i < 300; i++ {
		// /bin/true stands for the supervisor: it takes fd 3 (the lock)
		// and exits at once.
		pid, err := Start("/bin/true", runDir, &Spec{JobID: 1})
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	}
	if _, err := os.Stat(runDir); err != nil {
		t.Fatal(err)
	}
}
