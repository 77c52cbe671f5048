package integration

// Power cuts at random moments of a busy batch system: submissions,
// runs, periodic and requested checkpoints and requeues all under way when
// everything of the host is killed at once.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"lazarus/jobs"
)

// TestBatchPowerCutStorm cuts the power (b.crash: the daemon, every
// supervisor and every job process killed together) at random moments,
// LAZARUS_CUT_ITERATIONS times (20), and restarts the daemon each time,
// while submitters, checkpoint and requeue requests keep coming. Then every
// job must run to its end, and: no acknowledged submission is missing, no
// job is there twice, every job's output is complete (a quick job's two
// lines, a checkpointed simulation's output equal to an uninterrupted
// run's: a torn or wrong image would not give it), and the accounting log
// has exactly one E record per job. Arrays (-J 1-3) and jobs that depend
// on a quick job (afterok) are submitted too, and running simulations are
// suspended and resumed (qsig -s suspend / resume): each array's subjobs
// all end with their output, each dependent starts after its job ended,
// and a simulation suspended across a cut gives the same result. The seed
// is logged; LAZARUS_CUT_SEED repeats a run.
func TestBatchPowerCutStorm(t *testing.T) {
	t.Parallel()
	heavy(t)
	batchNeedRoot(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LAZARUS_CUT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("LAZARUS_CUT_SEED=%q: %v", s, err)
		}
	}
	iterations := 20
	if s := os.Getenv("LAZARUS_CUT_ITERATIONS"); s != "" {
		iterations, _ = strconv.Atoi(s)
	}
	t.Logf("seed %d (LAZARUS_CUT_SEED=%d repeats the run's delays and requests)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	b := newBatch(t, ckptConf+"slots = 2\n")
	const steps, bodies = 2400, 600
	want := nbodyReference(t, steps, bodies)
	sim := b.script("sim.sh", fmt.Sprintf("#!/bin/sh\nexec %s %s/sim.$PBS_JOBID.txt %d %d\n", batchProg(t, "nbody"), b.work, steps, bodies))
	quick := b.script("quick.sh", "#!/bin/sh\necho begin $PBS_JOBID\nsleep 0.3\necho end $PBS_JOBID\n")

	var (
		mu       sync.Mutex
		acked    = map[uint64]string{} // id: "sim", "quick" or "dep"
		arrays   = map[jobs.ID]bool{}
		parents  = map[uint64]uint64{} // a dependent's job
		attempts int
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	submit := func(kind string, args ...string) {
		mu.Lock()
		attempts++
		mu.Unlock()
		r := b.run("qsub", args...)
		if r.code != 0 {
			return // the daemon is down: not acknowledged
		}
		id, err := parseJobID(r.stdout)
		if err != nil {
			t.Errorf("qsub printed %q", r.stdout)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, dup := acked[id]; dup {
			t.Errorf("job id %d acknowledged twice", id)
		}
		acked[id] = kind
	}
	for range 2 {
		submit("sim", "-c", "1", "-j", "oe", sim)
	}
	quickIDs := func(kind string) []uint64 {
		mu.Lock()
		defer mu.Unlock()
		var ids []uint64
		for id, k := range acked {
			if k == kind {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		return ids
	}
	// Submitters of quick jobs, one of simulations, and a requester of
	// checkpoints (qchkpnt, qchkpnt -k: a requeue) of running simulations.
	worker := func(k uint64, every time.Duration, do func(r *rand.Rand)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, k))
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(r.Int64N(int64(every)))):
				}
				do(r)
			}
		}()
	}
	for k := range 3 {
		worker(uint64(10+k), 300*time.Millisecond, func(*rand.Rand) { submit("quick", "-c", "n", "-j", "oe", quick) })
	}
	worker(20, 4*time.Second, func(*rand.Rand) { submit("sim", "-c", "1", "-j", "oe", sim) })
	// Arrays of quick subjobs.
	worker(40, 2*time.Second, func(*rand.Rand) {
		mu.Lock()
		attempts++
		mu.Unlock()
		r := b.run("qsub", "-J", "1-3", "-c", "n", "-j", "oe", quick)
		if r.code != 0 {
			return
		}
		id, err := jobs.ParseID(strings.TrimSpace(r.stdout))
		if err != nil || !id.IsArrayForm() {
			t.Errorf("qsub -J printed %q", r.stdout)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if arrays[id] {
			t.Errorf("array %s acknowledged twice", id)
		}
		arrays[id] = true
	})
	// Jobs that wait for a quick job (afterok).
	worker(50, 1500*time.Millisecond, func(r *rand.Rand) {
		qs := quickIDs("quick")
		if len(qs) == 0 {
			return
		}
		parent := qs[r.IntN(len(qs))]
		mu.Lock()
		attempts++
		mu.Unlock()
		res := b.run("qsub", "-W", "depend=afterok:"+jobArg(parent), "-c", "n", "-j", "oe", quick)
		if res.code != 0 {
			return
		}
		id, err := parseJobID(res.stdout)
		if err != nil {
			t.Errorf("qsub printed %q", res.stdout)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, dup := acked[id]; dup {
			t.Errorf("job id %d acknowledged twice", id)
		}
		acked[id], parents[id] = "dep", parent
	})
	// Suspends a running simulation, and resumes it a moment later (a cut
	// in between leaves it suspended: it is resumed at the end).
	worker(60, 1500*time.Millisecond, func(r *rand.Rand) {
		sims := quickIDs("sim")
		if len(sims) == 0 {
			return
		}
		id := jobArg(sims[r.IntN(len(sims))])
		if b.run("qsig", "-s", "suspend", id).code != 0 {
			return
		}
		time.Sleep(time.Duration(r.Int64N(int64(time.Second))))
		b.run("qsig", "-s", "resume", id)
	})
	worker(30, time.Second, func(r *rand.Rand) {
		mu.Lock()
		var sims []uint64
		for id, kind := range acked {
			if kind == "sim" {
				sims = append(sims, id)
			}
		}
		mu.Unlock()
		if len(sims) == 0 {
			return
		}
		id := jobArg(sims[r.IntN(len(sims))])
		if r.IntN(3) == 0 {
			b.run("qchkpnt", "-k", id) // a checkpoint and a requeue
		} else {
			b.run("qchkpnt", "--no-wait", id)
		}
	})

	for i := range iterations {
		delay := time.Duration(rng.Int64N(int64(2 * time.Second)))
		time.Sleep(delay)
		t.Logf("cut %d after %v", i+1, delay)
		b.crash()
		b.start()
	}
	close(stop)
	wg.Wait()

	// Every job runs to its end.
	deadline := time.Now().Add(10 * time.Minute)
	for {
		pending := 0
		for _, j := range b.jobs() {
			if j.Suspended { // left so by a cut between suspend and resume
				b.run("qsig", "-s", "resume", jobArg(j.ID))
			}
			switch j.State {
			case "finished":
			case "failed":
				t.Fatalf("job %d failed after the power cuts: %s (seed %d)", j.ID, j.Reason, seed)
			default:
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs still not ended (seed %d)", pending, seed)
		}
		time.Sleep(200 * time.Millisecond)
	}

	all := b.jobs()
	seen := map[uint64]bool{}
	for _, j := range all {
		if seen[j.ID] {
			t.Errorf("job %d listed twice", j.ID)
		}
		seen[j.ID] = true
	}
	if len(all) > attempts {
		t.Errorf("%d jobs from %d submissions: some were doubled", len(all), attempts)
	}
	restarts, sims := 0, 0
	for id, kind := range acked {
		if !seen[id] {
			t.Errorf("acknowledged %s job %d is gone (seed %d)", kind, id, seed)
			continue
		}
		j := b.job(id)
		switch kind {
		case "quick":
			if got, want := b.readFile(j.Stdout), fmt.Sprintf("begin %d.%s\nend %d.%[2]s\n", id, shortHostname(), id); got != want {
				t.Errorf("quick job %d output %q, want %q (runs %+v)", id, got, want, j.Segments)
			}
		case "dep":
			if got, want := b.readFile(j.Stdout), fmt.Sprintf("begin %d.%s\nend %d.%[2]s\n", id, shortHostname(), id); got != want {
				t.Errorf("dependent job %d output %q, want %q (runs %+v)", id, got, want, j.Segments)
			}
			p := b.job(parents[id])
			if len(j.Segments) == 0 || len(p.Segments) == 0 || j.Segments[0].Start.Before(p.Segments[len(p.Segments)-1].End) {
				t.Errorf("job %d (afterok:%d) started before its job ended: %+v, %+v", id, parents[id], j.Segments, p.Segments)
			}
		case "sim":
			sims++
			checkNbodyOutput(t, filepath.Join(b.work, fmt.Sprintf("sim.%d.%s.txt", id, shortHostname())), want)
			for _, s := range j.Segments {
				if s.Restart {
					restarts++
				}
			}
		}
		if recs := b.acctRecords(id); strings.Count(acctTypes(recs), "E") != 1 {
			t.Errorf("job %d (%s): accounting records %s, want one E", id, jobs.ID(id), acctTypes(recs))
		}
	}
	for arr := range arrays {
		subs := 0
		for _, s := range b.status(true, arr) {
			sid := jobs.ID(s.ID)
			if !sid.IsSubjob() {
				if s.State != "finished" {
					t.Errorf("array %s: %s (%s)", arr, s.State, s.Reason)
				}
				continue
			}
			subs++
			if got, want := b.readFile(s.Stdout), fmt.Sprintf("begin %s.%s\nend %s.%[2]s\n", sid, shortHostname(), sid); s.State != "finished" || got != want {
				t.Errorf("subjob %s: %s, output %q, want %q", sid, s.State, got, want)
			}
		}
		if subs != 3 {
			t.Errorf("array %s has %d subjobs, want 3", arr, subs)
		}
	}
	t.Logf("%d cuts, %d submissions, %d acknowledged, %d jobs; %d simulations restarted %d times from checkpoints",
		iterations, attempts, len(acked), len(all), sims, restarts)
}
