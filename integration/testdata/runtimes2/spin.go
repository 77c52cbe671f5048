// spin OUT STEPS DELAY_MS: a Go program under a checkpoint. Each step, 16
// goroutines (over GOMAXPROCS, set by the caller above the cores) run
// a hash loop with no calls in it and fill maps (garbage), send their
// results on channels; a goroutine spins without a call until told to
// stop, so that every collection (runtime.GC each few steps, and the
// allocation-driven ones) must preempt it with SIGURG; a ticker and a
// time.AfterFunc keep the runtime's timers busy; a child process (this
// program again, "spin -child") started by os/exec (clone with a pidfd the
// runtime keeps, pipes in the runtime's epoll netpoller) hashes a line a
// step. One line per step: the step and the results combined in goroutine
// order, the same on every run.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func work(step, id int) uint64 {
	h := uint64(step)*1000003 + uint64(id)
	for i := 0; i < 1_000_000; i++ { // no call: preemptible only by signal
		h = h*6364136223846793005 + 1442695040888963407
		h ^= h >> 29
	}
	m := make(map[int]uint64)
	for i := 0; i < 20000; i++ {
		h = h*6364136223846793005 + 1442695040888963407
		m[i] = h ^ (h >> 31)
	}
	var s uint64
	for i := 0; i < 20000; i++ {
		s += m[i] * uint64(i|1)
	}
	return s
}

// child answers each line of its input with a hash of it.
func child() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		h := uint64(14695981039346656037)
		for _, b := range in.Bytes() {
			h = (h ^ uint64(b)) * 1099511628211
		}
		fmt.Printf("%x\n", h)
	}
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-child" {
		child()
		return
	}
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: spin OUT STEPS DELAY_MS")
		os.Exit(2)
	}
	steps, _ := strconv.Atoi(os.Args[2])
	delay, _ := strconv.Atoi(os.Args[3])
	f, err := os.Create(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(f)
	var stop atomic.Bool
	var spun uint64
	spinDone := make(chan struct{})
	go func() {
		x := uint64(1)
		for !stop.Load() {
			x = x*2862933555777941757 + 3037000493
		}
		spun = x
		close(spinDone)
	}()
	var ticks atomic.Int64
	ticker := time.NewTicker(7 * time.Millisecond)
	go func() {
		for range ticker.C {
			ticks.Add(1)
		}
	}()
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kid := exec.Command(self, "-child")
	toKid, _ := kid.StdinPipe()
	fromKid, _ := kid.StdoutPipe()
	kid.Stderr = os.Stderr
	if err := kid.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	answers := bufio.NewScanner(fromKid)
	var total uint64
	for step := 0; step < steps; step++ {
		results := make([]chan uint64, 16)
		var wg sync.WaitGroup
		for id := range results {
			results[id] = make(chan uint64, 1)
			wg.Add(1)
			go func(id int) {
				defer wg.Done()
				results[id] <- work(step, id)
			}(id)
		}
		var c uint64
		for _, ch := range results {
			c = c*31 + <-ch
		}
		wg.Wait()
		if step%5 == 0 {
			runtime.GC()
		}
		fmt.Fprintf(toKid, "%d %x\n", step, c)
		if !answers.Scan() {
			fmt.Fprintln(os.Stderr, "spin: the child process did not answer")
			os.Exit(1)
		}
		total = total*1099511628211 ^ c
		fmt.Fprintf(w, "%d %x %x %s\n", step, c, total, answers.Text())
		w.Flush()
		fired := make(chan struct{})
		time.AfterFunc(time.Duration(delay)*time.Millisecond, func() { close(fired) })
		select {
		case <-fired:
		case <-time.After(time.Minute):
			fmt.Fprintln(os.Stderr, "spin: a timer did not fire in a minute")
			os.Exit(1)
		}
	}
	toKid.Close()
	if err := kid.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, "spin: the child process:", err)
		os.Exit(1)
	}
	stop.Store(true)
	<-spinDone
	ticker.Stop()
	_ = spun
	fmt.Fprintf(w, "done %x\n", total)
	w.Flush()
	f.Close()
}
