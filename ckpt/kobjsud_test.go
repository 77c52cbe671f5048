package ckpt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// sudPath is one way of checkpointing and restarting testdata/sud_block.c
// that runs code in the process: each injects calls of its own (the
// freeze's, a twin's clone and its reaping wait4, the userfaultfd made
// before the freeze or in it, a dirty-page tracker, the restart's build).
type sudPath struct {
	name string
	mib  int               // memory the program touches
	opts CheckpointOptions // the first checkpoint
	// parent: a second checkpoint against the first (chkpnt -b).
	parent  bool
	restart RestartOptions
	// again: the restarted process is checkpointed once more (against
	// the image it came from) before it checks itself.
	again     bool
	inFreeze  bool // no write-protection before the freeze
	checkOnly bool // chkpnt -n: no image, nothing to restart
}

var sudPaths = []sudPath{
	{name: "twin"},          // small: a copy-on-write twin, reaped by an injected wait4
	{name: "snap", mib: 48}, // userfaultfd made before the freeze, snapshot
	{name: "snapinfreeze", mib: 48, inFreeze: true},                            // userfaultfd made in the freeze
	{name: "check", opts: CheckpointOptions{CheckOnly: true}, checkOnly: true}, // chkpnt -n
	{name: "kill", opts: CheckpointOptions{Signal: unix.SIGKILL}},              // chkpnt -k KILL: stopped to the end
	{name: "term", opts: CheckpointOptions{Signal: unix.SIGCONT}},              // chkpnt -k CONT: stopped to the end, runs on
	{name: "track", mib: 48, opts: CheckpointOptions{Track: true}, parent: true,
		restart: RestartOptions{Track: true}, again: true}, // chkpnt -T, -b, restart -T, chkpnt -b of the restarted
	{name: "lazy", mib: 48, restart: RestartOptions{Lazy: true}}, // restart --lazy
}

// TestSUDBlock checkpoints a program whose syscall user dispatch is on
// with its selector at BLOCK, with and without a SIGSYS handler, with one
// and two threads, along every path that injects calls into it: the
// running program must never see one of them dispatched (without a
// handler that is a SIGSYS death), and the restarted one must have its
// dispatch back as it was, in each thread, after the last injected call.
func TestSUDBlock(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "sud_block", "-pthread")
	for _, handler := range []string{"handler", "nohandler"} {
		for _, threads := range []int{1, 2} {
			for _, p := range sudPaths {
				t.Run(fmt.Sprintf("%s/%dthreads/%s", handler, threads, p.name), func(t *testing.T) {
					runSUD(t, prog, []string{handler, fmt.Sprint(threads), fmt.Sprint(p.mib)}, p)
				})
			}
			// The inclusive mode (the region given is the one
			// dispatched), on the paths of each kind of injection.
			for _, p := range sudPaths {
				if p.name != "twin" && p.name != "snap" && p.name != "kill" && p.name != "track" {
					continue
				}
				t.Run(fmt.Sprintf("%s/%dthreads/inclusive-%s", handler, threads, p.name), func(t *testing.T) {
					runSUD(t, prog, []string{handler, fmt.Sprint(threads), fmt.Sprint(p.mib), "inclusive"}, p)
				})
			}
		}
	}
}

// runSUD runs prog (OUT, then args) as p says: checkpoints, the running
// program's checks, the restart and the restarted program's checks.
func runSUD(t *testing.T, prog string, args []string, p sudPath) {
	if p.inFreeze {
		preSnapshots = false
		t.Cleanup(func() { preSnapshots = true })
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "result")
	cmd := start(t, dir, prog, append([]string{out}, args...)...)
	waitFor(t, "ready", func() bool { _, err := os.Stat(out + ".ready"); return err == nil })
	if b, _ := os.ReadFile(out + ".ready"); len(b) > 0 {
		t.Fatalf("set-up failed: %s", b)
	}
	img := filepath.Join(dir, "img")
	// What the engine says: an injected call met by a signal (SIGSYS:
	// dispatched) is harm even where the engine recovers from it.
	var logged syncBuffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if s := logged.String(); strings.Contains(s, "signal 31") || strings.Contains(s, "bad system call") {
			t.Errorf("the engine met a dispatched call:\n%s", s)
		}
	})
	opts := p.opts
	opts.File, opts.Tree, opts.Logger = img, true, log
	res, err := Checkpoint(context.Background(), cmd.Process.Pid, opts)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if p.parent {
		img2 := filepath.Join(dir, "img2")
		if res, err = Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img2, Tree: true, Parent: img, Logger: log}); err != nil {
			t.Fatalf("checkpoint against %s: %v", img, err)
		}
		img = img2
	}
	if p.opts.Signal == unix.SIGKILL {
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGKILL {
			t.Fatalf("after chkpnt -k KILL: %v, want killed by SIGKILL", err)
		}
	} else {
		// The checkpoint changed nothing of the running program.
		kobjSignal(t, cmd.Process.Pid)
		werr := cmd.Wait()
		got, _ := os.ReadFile(out)
		if werr != nil || string(got) != "ok" {
			t.Fatalf("after the checkpoint, still running: %v: %s", werr, got)
		}
	}
	if p.checkOnly {
		return
	}
	os.Remove(out)
	waitReaped(t, res)
	ropts := p.restart
	ropts.Logger = log
	rp, err := Restart(context.Background(), img, ropts)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { unix.Kill(rp.PID, unix.SIGKILL) })
	if p.again {
		<-rp.Loaded()
		if _, err := Checkpoint(context.Background(), rp.PID, CheckpointOptions{File: filepath.Join(dir, "img3"), Tree: true, Parent: img, Logger: log}); err != nil {
			t.Fatalf("checkpoint of the restarted process: %v", err)
		}
	}
	kobjSignal(t, rp.PID)
	ws := waitProc(t, rp)
	got, _ := os.ReadFile(out)
	if !ws.Exited() || ws.ExitStatus() != 0 || string(got) != "ok" {
		t.Fatalf("after the restart: %v: %s", ws, got)
	}
}

// TestSUDVfork checkpoints a process that waits in vfork for its child
// (as posix_spawn, system and popen do): the checkpoint waits for the
// vfork to end and is taken then; a vfork that does not end within the
// bound is refused naming both processes, and leaves both running.
func TestSUDVfork(t *testing.T) {
	needRoot(t)
	prog := cprog(t, "sud_vfork")
	for _, ends := range []bool{true, false} {
		name := "ends"
		if !ends {
			name = "stays"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			out, fifo := filepath.Join(dir, "result"), filepath.Join(dir, "fifo")
			if err := unix.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := start(t, dir, prog, out, fifo)
			waitFor(t, "the vfork", func() bool { _, err := os.Stat(out + ".vforked"); return err == nil })
			var logged syncBuffer
			log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
			img := filepath.Join(dir, "img")
			type result struct {
				res *CheckpointResult
				err error
			}
			done := make(chan result, 1)
			go func() {
				res, err := Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, Tree: true, Logger: log})
				done <- result{res, err}
			}()
			release := func() {
				f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write([]byte{1})
				f.Close()
			}
			var r result
			if ends {
				waitFor(t, "the checkpoint to wait for the vfork", func() bool { return strings.Contains(logged.String(), "waits in vfork") })
				release()
				r = <-done
				if r.err != nil {
					t.Fatalf("checkpoint: %v\n%s", r.err, logged.String())
				}
			} else {
				r = <-done
				child := 0
				if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid)); err == nil {
					fmt.Sscan(string(b), &child)
				}
				var ue *UncheckpointableError
				want := fmt.Sprintf("sud_vfork(%d): tid %d waits in vfork for its child sud_vfork(%d)", cmd.Process.Pid, cmd.Process.Pid, child)
				if !errors.As(r.err, &ue) || child == 0 || !strings.Contains(r.err.Error(), want) {
					t.Fatalf("checkpoint: %v, want it refused: %s...", r.err, want)
				}
				for _, pid := range []int{cmd.Process.Pid, child} {
					if tr := tracerOf(pid, pid); tr != 0 {
						t.Errorf("after the refusal, %d is traced by %d", pid, tr)
					}
				}
				release()
			}
			kobjSignal(t, cmd.Process.Pid)
			werr := cmd.Wait()
			got, _ := os.ReadFile(out)
			if werr != nil || string(got) != "ok" {
				t.Fatalf("after the checkpoint, still running: %v: %s", werr, got)
			}
			if !ends {
				return
			}
			os.Remove(out)
			waitReaped(t, r.res)
			rp, err := Restart(context.Background(), img, RestartOptions{})
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			t.Cleanup(func() { unix.Kill(rp.PID, unix.SIGKILL) })
			kobjSignal(t, rp.PID)
			ws := waitProc(t, rp)
			got, _ = os.ReadFile(out)
			if !ws.Exited() || ws.ExitStatus() != 0 || string(got) != "ok" {
				t.Fatalf("after the restart: %v: %s", ws, got)
			}
		})
	}
}
