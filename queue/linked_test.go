package queue

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lazarus/jobs"
)

// link is what a before dependency does to the job it names: it waits
// for the new one.
func link(newID jobs.ID) func([]*jobs.Job) error {
	return func(bs []*jobs.Job) error {
		for _, b := range bs {
			if b.Depend == nil {
				b.Depend = &jobs.Depend{}
			}
			b.Depend.Conds = append(b.Depend.Conds, jobs.Cond{Kind: jobs.DepAfterOK, ID: newID})
			b.Depend.Waiting, b.State = true, jobs.Held
		}
		return nil
	}
}

func TestSubmitLinked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s := openStore(t, path)
	b1, b2 := submit(t, s, "batch", 1), submit(t, s, "batch", 1)

	t.Run("both stored", func(t *testing.T) {
		a := newJob(s, "batch", 1)
		id, dup, err := s.SubmitLinked("", a, []byte("script"), nil, nil, []jobs.ID{b1.ID, b2.ID}, link(a.ID))
		if err != nil || dup || id != a.ID {
			t.Fatalf("got %d, %v, %v; want %d, false, nil", id, dup, err, a.ID)
		}
		for _, b := range []jobs.ID{b1.ID, b2.ID} {
			got := s.View().Job(b)
			if got.State != jobs.Held || len(got.Depend.Conds) != 1 || got.Depend.Conds[0].ID != a.ID {
				t.Errorf("job %d: %s, %+v; want held, waiting for %d", b, got.State, got.Depend, a.ID)
			}
		}
		checkConsistent(t, s)
	})
	t.Run("fn fails: nothing stored", func(t *testing.T) {
		a := newJob(s, "batch", 1)
		boom := errors.New("boom")
		_, _, err := s.SubmitLinked("", a, nil, nil, nil, []jobs.ID{b1.ID}, func(bs []*jobs.Job) error {
			link(a.ID)(bs)
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want %v", err, boom)
		}
		if s.View().Job(a.ID) != nil {
			t.Error("the new job was stored")
		}
		if n := len(s.View().Job(b1.ID).Depend.Conds); n != 1 {
			t.Errorf("job %d has %d conditions, want 1", b1.ID, n)
		}
		checkConsistent(t, s)
	})
	t.Run("check fails: nothing stored", func(t *testing.T) {
		a := newJob(s, "batch", 1)
		no := errors.New("no")
		_, _, err := s.SubmitLinked("", a, nil, nil, func(*View) error { return no }, []jobs.ID{b1.ID}, link(a.ID))
		if !errors.Is(err, no) || s.View().Job(a.ID) != nil || len(s.View().Job(b1.ID).Depend.Conds) != 1 {
			t.Errorf("got %v, job stored %v; want %v and nothing stored", err, s.View().Job(a.ID) != nil, no)
		}
	})
	t.Run("unknown job: nothing stored", func(t *testing.T) {
		a := newJob(s, "batch", 1)
		_, _, err := s.SubmitLinked("", a, nil, nil, nil, []jobs.ID{b1.ID, 999}, link(a.ID))
		if !errors.Is(err, ErrNoJob) || s.View().Job(a.ID) != nil || len(s.View().Job(b1.ID).Depend.Conds) != 1 {
			t.Errorf("got %v, job stored %v; want %v and nothing stored", err, s.View().Job(a.ID) != nil, ErrNoJob)
		}
	})
	t.Run("a job named twice is refused", func(t *testing.T) {
		a := newJob(s, "batch", 1)
		if _, _, err := s.SubmitLinked("", a, nil, nil, nil, []jobs.ID{b1.ID, b1.ID}, link(a.ID)); err == nil {
			t.Error("no error")
		}
	})
	t.Run("key: once", func(t *testing.T) {
		a := newJob(s, "batch", 1)
		if _, _, err := s.SubmitLinked("k1", a, nil, nil, nil, []jobs.ID{b2.ID}, link(a.ID)); err != nil {
			t.Fatal(err)
		}
		again := newJob(s, "batch", 1)
		called := false
		id, dup, err := s.SubmitLinked("k1", again, nil, nil, nil, []jobs.ID{b2.ID}, func([]*jobs.Job) error {
			called = true
			return nil
		})
		if err != nil || !dup || id != a.ID || called {
			t.Errorf("got %d, %v, %v, fn called %v; want %d, true, nil, not called", id, dup, err, called, a.ID)
		}
		if n := len(s.View().Job(b2.ID).Depend.Conds); n != 2 {
			t.Errorf("job %d has %d conditions, want 2", b2.ID, n)
		}
	})
	t.Run("survives reopen", func(t *testing.T) {
		s.Close()
		r := openStore(t, path)
		checkConsistent(t, r)
		if n := len(r.View().Job(b2.ID).Depend.Conds); n != 2 {
			t.Errorf("job %d has %d conditions after reopen, want 2", b2.ID, n)
		}
	})
}

// linkedChildEnv names the store of TestSubmitLinkedKilled's child.
const linkedChildEnv = "LAZARUS_TEST_LINKED_STORE"

// TestSubmitLinkedKilled kills (SIGKILL) a process in the middle of
// submitting linked jobs, again and again, and checks after each kill
// that the store never holds a new job without the condition it put on
// the job it names, nor a condition on a job that was never stored. A
// submission stored in two transactions (the job, then the condition)
// fails this as soon as a kill falls between them.
func TestSubmitLinkedKilled(t *testing.T) {
	if path := os.Getenv(linkedChildEnv); path != "" {
		linkedChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "db")
	for round := range 40 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSubmitLinkedKilled$", "-test.count=1")
		cmd.Env = append(os.Environ(), linkedChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it store a few, then kill it at a moment that varies over
		// the time of a few submissions.
		sc := bufio.NewScanner(out)
		for n := 0; n < 3 && sc.Scan(); n++ {
		}
		go func() {
			for sc.Scan() {
			}
		}()
		time.Sleep(time.Duration(round) * 200 * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		checkLinks(t, s, round)
		s.Close()
	}
}

// linkedChild submits, for ever, a job b and then a job a linked to it
// (b waits for a); it prints a line after each pair.
func linkedChild(path string) {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for {
		b := newJob(s, "batch", 1)
		b.Name = "b"
		if err := s.Submit(b, nil, nil, nil); err != nil {
			os.Exit(2)
		}
		a := newJob(s, "batch", 1)
		a.Name = "a-of-" + strconv.FormatUint(uint64(b.ID), 10)
		if _, _, err := s.SubmitLinked("", a, []byte("#!/bin/sh\n"), nil, nil, []jobs.ID{b.ID}, link(a.ID)); err != nil {
			os.Exit(2)
		}
		fmt.Println(a.ID)
	}
}

// checkLinks checks that every job a is the condition of its job b, and
// that every condition of a job b names a stored job a.
func checkLinks(t *testing.T, s *Store, round int) {
	t.Helper()
	v := s.View()
	n := 0
	for j := range v.Jobs() {
		if of, ok := strings.CutPrefix(j.Name, "a-of-"); ok {
			n++
			bid, _ := strconv.ParseUint(of, 10, 64)
			b := v.Job(jobs.ID(bid))
			if b == nil || b.Depend == nil || len(b.Depend.Conds) != 1 || b.Depend.Conds[0].ID != j.ID {
				t.Errorf("round %d: job %d is stored, but job %d does not wait for it: %+v", round, j.ID, bid, b)
			}
		}
		if j.Name == "b" && j.Depend != nil {
			for _, c := range j.Depend.Conds {
				if v.Job(c.ID) == nil {
					t.Errorf("round %d: job %d waits for job %d, which was never stored", round, j.ID, c.ID)
				}
			}
		}
	}
	if n == 0 {
		t.Errorf("round %d: no linked job was stored", round)
	}
	t.Logf("round %d: %d linked jobs stored", round, n)
}
