package srun

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// killWait is how long tasks told to end (SIGTERM) have before SIGKILL.
const killWait = 5 * time.Second

// forwarded are the signals srun passes on to its tasks, as Slurm's does.
var forwarded = []os.Signal{unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGHUP,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGCONT}

// exitError is srun's exit status, with a message ("" when what went
// wrong was already printed).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func fail(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// runner is one srun, with its streams.
type runner struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	outMu, errMu   sync.Mutex
}

func (r *runner) warnf(o *options, format string, args ...any) {
	if o != nil && o.quiet {
		return
	}
	r.errMu.Lock()
	fmt.Fprintf(r.stderr, "srun: warning: "+format+"\n", args...)
	r.errMu.Unlock()
}

func (r *runner) errorf(format string, args ...any) {
	r.errMu.Lock()
	fmt.Fprintf(r.stderr, "srun: error: "+format+"\n", args...)
	r.errMu.Unlock()
}

// run is srun's work: parse, check, then the step.
func (r *runner) run(args []string) error {
	o, err := parseArgs(args)
	if err != nil {
		if errors.Is(err, errUsage) {
			return fail(1, "%s (see srun --help)", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		}
		return fail(1, "%v", err)
	}
	switch {
	case o.help:
		io.WriteString(r.stdout, helpText)
		return nil
	case o.version:
		fmt.Fprintln(r.stdout, "slurm 23.11 (srun of Lazarus: the tasks of a Lazarus batch job)")
		return nil
	case o.mpi == "list":
		fmt.Fprintln(r.stdout, "MPI types are...\nnone\npmi1\npmi2\npmix\nopenmpi\nmpich")
		return nil
	}
	jobID := os.Getenv("LAZARUS_JOBID")
	if jobID == "" {
		return fail(1, "not inside a Lazarus batch job (no LAZARUS_JOBID): srun runs the tasks of a job; submit the script with qsub")
	}
	if o.prog == "" {
		return fail(1, "no program given (see srun --help)")
	}
	if o.jobID != "" && o.jobID != jobID && o.jobID != os.Getenv("SLURM_JOB_ID") {
		return fail(1, "--jobid=%s: this is job %s; srun runs steps of its own job only", o.jobID, jobID)
	}
	for _, w := range o.warnings {
		r.warnf(o, "%s", w)
	}
	host, _ := os.Hostname()
	if v := os.Getenv("SLURMD_NODENAME"); v != "" {
		host = v
	}
	if err := checkNodes(o, host); err != nil {
		return err
	}
	s := &step{o: o, jobID: jobID, host: host}
	s.n = o.ntasks
	if s.n == 0 {
		s.n = o.ntasksPerNode
	}
	if s.n == 0 {
		s.n = defaultTasks()
	}
	perTaskCPUs := o.cpusPerTask
	if perTaskCPUs == 0 {
		perTaskCPUs = 1
	}
	if cpus, err := strconv.Atoi(os.Getenv("LAZARUS_NCPUS")); err == nil && cpus > 0 && s.n*perTaskCPUs > cpus {
		r.warnf(o, "%d tasks of %d CPUs each are more than the job's %d CPUs: they share them", s.n, perTaskCPUs, cpus)
	}
	wd, err := os.Getwd()
	if err != nil {
		return fail(1, "current directory: %v", err)
	}
	s.dir = wd
	if o.chdir != "" {
		s.dir = o.chdir
		if !filepath.IsAbs(s.dir) {
			s.dir = filepath.Join(wd, s.dir)
		}
		if st, err := os.Stat(s.dir); err != nil || !st.IsDir() {
			return fail(1, "--chdir=%s: not a directory", o.chdir)
		}
	}
	if o.multiProg {
		if s.progs, err = multiProg(o.prog, s.n, s.dir); err != nil {
			return fail(2, "%v", err)
		}
		for _, p := range s.progs {
			if linkedMPI(p.path) != mpiNone {
				return fail(1, "--multi-prog: %s is an MPI program: start MPMD runs with mpirun's \"-n 1 a : -n 2 b\" form", p.argv[0])
			}
		}
		s.prog, s.argv = s.progs[0].path, s.progs[0].argv
	} else {
		if s.prog, err = findProgram(o.prog, s.dir); err != nil {
			return fail(2, "%s: %v", o.prog, err)
		}
		s.argv = append([]string{o.prog}, o.args...)
	}
	own, err := exportEnv(o.export, os.Environ())
	if err != nil {
		return fail(1, "%v", err)
	}
	s.id = nextStepID()
	s.jobEnv = own
	s.env = s.stepEnv(append([]string(nil), own...))
	flavour, byOption := mpiFlavour(s.prog, o.mpi)
	if flavour != mpiNone && !o.multiProg {
		if _, err := mpiLauncher(flavour); err == nil || !byOption {
			return r.runMPI(s, flavour)
		}
		r.warnf(o, "--mpi=%s: %s's launcher is not on PATH: the tasks run as plain processes", o.mpi, flavour)
	}
	return r.runTasks(s)
}

// defaultTasks is the job's number of tasks: SLURM_NTASKS (an #SBATCH
// job's --ntasks), else, in a PBS job, the lines of its PBS_NODEFILE (one
// per MPI process it asked for, as mpirun counts them), else 1.
func defaultTasks() int {
	if n, err := strconv.Atoi(os.Getenv("SLURM_NTASKS")); err == nil && n > 0 {
		return n
	}
	if f := os.Getenv("PBS_NODEFILE"); f != "" {
		if b, err := os.ReadFile(f); err == nil {
			n := 0
			for _, l := range strings.Split(string(b), "\n") {
				if strings.TrimSpace(l) != "" {
					n++
				}
			}
			if n > 0 {
				return n
			}
		}
	}
	return 1
}

// checkNodes refuses a step on more nodes, or other nodes, than the job's one.
func checkNodes(o *options, host string) error {
	if o.nodes != "" {
		lo, _, _ := strings.Cut(o.nodes, "-")
		n, err := strconv.Atoi(lo)
		if err != nil || n < 1 {
			return fail(1, "--nodes=%s: want a number of nodes above 0", o.nodes)
		}
		if n > 1 {
			return fail(1, "--nodes=%s: %s (the job has 1 node)", o.nodes, whyOne)
		}
	}
	if o.nodelist != "" {
		short, _, _ := strings.Cut(host, ".")
		for _, name := range strings.Split(o.nodelist, ",") {
			if name != host && name != short && name != "localhost" {
				return fail(1, "--nodelist=%s: %s is not a node of this job (%s)", o.nodelist, name, host)
			}
		}
	}
	return nil
}

// findProgram finds the program as the task's exec would: a name with a
// slash relative to the tasks' directory, else on PATH.
func findProgram(prog, dir string) (string, error) {
	if strings.Contains(prog, "/") {
		p := prog
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		st, err := os.Stat(p)
		switch {
		case err != nil:
			return "", errors.Unwrap(err)
		case st.IsDir():
			return "", errors.New("is a directory")
		case st.Mode()&0o111 == 0:
			return "", errors.New("permission denied (not executable)")
		}
		return p, nil
	}
	p, err := exec.LookPath(prog)
	if err != nil {
		return "", errors.New("command not found (not on PATH)")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return p, nil
}

// task is one running task.
type task struct {
	rank int
	cmd  *exec.Cmd
	done bool
}

type taskEnd struct {
	rank int
	err  error
}

// runTasks runs the step's n tasks as srun's children, waits for all of
// them, and ends with the worst status.
func (r *runner) runTasks(s *step) error {
	fs := &files{s: s}
	defer fs.close()
	width := len(strconv.Itoa(s.n - 1))
	var relays sync.WaitGroup
	tasks := make([]*task, s.n)
	ends := make(chan taskEnd, s.n)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	started := 0
	for rank := 0; rank < s.n; rank++ {
		in, out, errf, err := fs.stdio(rank)
		if err != nil {
			r.errorf("task %d: %v", rank, err)
			break
		}
		prog, argv := s.prog, s.argv
		if s.progs != nil {
			prog, argv = s.progs[rank].path, s.progs[rank].argv
		}
		cmd := &exec.Cmd{Path: prog, Args: argv, Env: taskEnv(s.env, s.n, rank), Dir: s.dir}
		cmd.Stdin = stdinOf(in, r.stdin)
		var closeAfter []*os.File
		for k, dest := range []*os.File{out, errf} {
			shared := r.stdout
			mu := &r.outMu
			if k == 1 {
				shared, mu = r.stderr, &r.errMu
			}
			var w io.Writer = shared
			if dest != nil {
				w, mu = dest, nil
			}
			var fd io.Writer = w
			if s.o.label {
				pr, pw, err := os.Pipe()
				if err != nil {
					return fail(1, "pipe: %v", err)
				}
				closeAfter = append(closeAfter, pw)
				fd = pw
				prefix := fmt.Sprintf("%*d: ", width, rank)
				relays.Add(1)
				go func() {
					defer relays.Done()
					defer pr.Close()
					relayLines(pr, w, mu, func(line []byte) (string, []byte) { return prefix, line })
				}()
			}
			if k == 0 {
				cmd.Stdout = fd
			} else {
				cmd.Stderr = fd
			}
		}
		err = cmd.Start()
		for _, f := range closeAfter {
			f.Close()
		}
		if err != nil {
			r.errorf("task %d: %s: %v", rank, argv[0], unwrapExec(err))
			break
		}
		tasks[rank] = &task{rank: rank, cmd: cmd}
		started++
		go func(rank int) { ends <- taskEnd{rank, cmd.Wait()} }(rank)
	}
	worst := 0
	if started < s.n {
		worst = 2
		r.signalAll(tasks, unix.SIGKILL)
	}
	var grace, waitTimer, limit <-chan time.Time
	if s.o.timeLimit > 0 {
		t := time.NewTimer(s.o.timeLimit)
		defer t.Stop()
		limit = t.C
	}
	terminate := func() {
		if grace == nil {
			r.signalAll(tasks, unix.SIGTERM)
			grace = time.After(killWait)
		}
	}
	for left := started; left > 0; {
		select {
		case e := <-ends:
			left--
			tasks[e.rank].done = true
			code, msg := status(e.err)
			if code != 0 {
				r.errorf("%s: task %d: %s", s.host, e.rank, msg)
			}
			worst = max(worst, code)
			if code != 0 && s.o.killBadExit && left > 0 {
				r.errorf("Terminating StepId=%s.%d", s.jobID, s.id)
				terminate()
			}
			if s.o.wait > 0 && waitTimer == nil && left > 0 {
				waitTimer = time.After(s.o.wait)
			}
		case sig := <-sigs:
			r.signalAll(tasks, sig.(syscall.Signal))
		case <-limit:
			r.errorf("*** STEP %s.%d ON %s CANCELLED AT %s DUE TO TIME LIMIT ***",
				s.jobID, s.id, s.host, time.Now().Format("2006-01-02T15:04:05"))
			terminate()
		case <-waitTimer:
			r.errorf("First task exited %s ago. Terminating StepId=%s.%d", s.o.wait, s.jobID, s.id)
			terminate()
		case <-grace:
			r.signalAll(tasks, unix.SIGKILL)
		}
	}
	relays.Wait()
	if worst != 0 {
		return &exitError{code: worst}
	}
	return nil
}

// stdinOf is a task's standard input: the file of -i, else srun's own.
func stdinOf(f *os.File, own io.Reader) io.Reader {
	if f != nil {
		return f
	}
	return own
}

func (r *runner) signalAll(tasks []*task, sig syscall.Signal) {
	for _, t := range tasks {
		if t != nil && !t.done && t.cmd.Process != nil {
			t.cmd.Process.Signal(sig)
		}
	}
}

// status is a task's exit status as srun reports it (Slurm: the exit
// code, or 128 + the signal that killed it) and its message.
func status(err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			name := ws.Signal().String()
			if name != "" {
				name = strings.ToUpper(name[:1]) + name[1:]
			}
			if ws.CoreDump() {
				name += " (core dumped)"
			}
			return 128 + int(ws.Signal()), name
		}
		return ee.ExitCode(), fmt.Sprintf("Exited with exit code %d", ee.ExitCode())
	}
	return 1, err.Error()
}

func unwrapExec(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// relayLines copies r to w line by line, each line after the prefix
// label gives it; w is shared with other relays under mu (nil: w is
// this relay's alone, a file of -o shared with -e under the file's own
// writes, which are whole lines).
func relayLines(r io.Reader, w io.Writer, mu *sync.Mutex, label func(line []byte) (string, []byte)) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			prefix, rest := label(line)
			buf := make([]byte, 0, len(prefix)+len(rest))
			buf = append(append(buf, prefix...), rest...)
			if mu != nil {
				mu.Lock()
			}
			w.Write(buf)
			if mu != nil {
				mu.Unlock()
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return
		}
	}
}

// shimEnv carries, to the shim the MPI launcher starts for each rank,
// what the rank's environment and descriptors are to be.
const shimEnv = "LAZARUS_SRUN_TASK"

// shimSpec is what the shim of a rank gets.
type shimSpec struct {
	Env    []string `json:"env"` // the step's, but for the rank's own
	N      int      `json:"n"`
	Prog   string   `json:"prog"`
	Dir    string   `json:"dir"`
	Output string   `json:"output,omitempty"`
	Error  string   `json:"error,omitempty"`
	Input  string   `json:"input,omitempty"`
	Append bool     `json:"append,omitempty"`
	JobID  string   `json:"job_id"`
	Host   string   `json:"host"`
	Step   int      `json:"step"`
}

// runMPI runs the step's n ranks under the job's MPI launcher: srun waits
// for it, relaying its output with --label, and ends with its status.
func (r *runner) runMPI(s *step, flavour string) error {
	launcher, err := mpiLauncher(flavour)
	if err != nil {
		return fail(2, "%s is linked with %s, whose launcher is not on PATH: %v", s.argv[0], flavour, err)
	}
	self, err := os.Executable()
	if err != nil {
		return fail(1, "%v", err)
	}
	// The ranks' environment is set by the shim: the launcher gets the
	// job's, in which Open MPI and MPICH find its node and slots
	// (SLURM_NODELIST, SLURM_TASKS_PER_NODE), not the step's.
	spec, _ := json.Marshal(shimSpec{Env: s.env, N: s.n, Prog: s.prog, Dir: s.dir,
		Output: s.o.output, Error: s.o.errput, Input: s.o.input, Append: s.o.openAppend,
		JobID: s.jobID, Host: s.host, Step: s.id})
	args := launcherArgs(launcher, flavour, s.n, s.o.label, self, s.argv)
	cmd := &exec.Cmd{Path: launcher, Args: args, Dir: s.dir,
		Env: setEnv(append([]string(nil), s.jobEnv...), shimEnv, string(spec))}
	if flavour == mpiOpenMPI && os.Geteuid() == 0 {
		cmd.Env = setEnv(setEnv(cmd.Env, "OMPI_ALLOW_RUN_AS_ROOT", "1"), "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r.stdin, r.stdout, r.stderr
	var relays sync.WaitGroup
	if s.o.label {
		width := len(strconv.Itoa(s.n - 1))
		label := func(line []byte) (string, []byte) {
			if rank, rest, ok := mpiRankLabel(line); ok {
				return fmt.Sprintf("%*d: ", width, rank), rest
			}
			return "", line // the launcher's own
		}
		for k, w := range []io.Writer{r.stdout, r.stderr} {
			pr, pw, err := os.Pipe()
			if err != nil {
				return fail(1, "pipe: %v", err)
			}
			defer pw.Close()
			mu := &r.outMu
			if k == 0 {
				cmd.Stdout = pw
			} else {
				cmd.Stderr, mu = pw, &r.errMu
			}
			relays.Add(1)
			go func() {
				defer relays.Done()
				defer pr.Close()
				relayLines(pr, w, mu, label)
			}()
		}
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return fail(2, "%s: %v", launcher, unwrapExec(err))
	}
	if f, ok := cmd.Stdout.(*os.File); ok && s.o.label {
		f.Close()
		cmd.Stderr.(*os.File).Close()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var limit, grace <-chan time.Time
	if s.o.timeLimit > 0 {
		t := time.NewTimer(s.o.timeLimit)
		defer t.Stop()
		limit = t.C
	}
	for {
		select {
		case err := <-done:
			relays.Wait()
			code, msg := status(err)
			if code != 0 {
				r.errorf("%s: tasks 0-%d: %s", s.host, s.n-1, msg)
				return &exitError{code: code}
			}
			return nil
		case sig := <-sigs:
			cmd.Process.Signal(sig)
		case <-limit:
			r.errorf("*** STEP %s.%d ON %s CANCELLED AT %s DUE TO TIME LIMIT ***",
				s.jobID, s.id, s.host, time.Now().Format("2006-01-02T15:04:05"))
			cmd.Process.Signal(unix.SIGTERM)
			grace = time.After(killWait)
		case <-grace:
			cmd.Process.Signal(unix.SIGKILL)
		}
	}
}

// shim is srun started by an MPI launcher as one rank: it sets the rank's
// SLURM_* variables and descriptors, enters its directory, and execs the
// program, which then is the rank (the launcher's PMI reaches it).
func shim(spec string, stderr io.Writer) int {
	var sp shimSpec
	if err := json.Unmarshal([]byte(spec), &sp); err != nil {
		fmt.Fprintf(stderr, "srun: error: task setup: %v\n", err)
		return 127
	}
	rank := rankOf()
	env := os.Environ()
	// What the launcher set for the rank (PMI, OMPI_*) stays; the step's
	// variables are added over the job's.
	for _, kv := range sp.Env {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := getEnv(env, k); !ok || strings.HasPrefix(k, "SLURM_") {
			env = setEnv(env, k, v)
		}
	}
	env = taskEnv(env, sp.N, rank)
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, shimEnv+"=") {
			kept = append(kept, kv)
		}
	}
	o := &options{output: sp.Output, errput: sp.Error, input: sp.Input, openAppend: sp.Append}
	s := &step{o: o, jobID: sp.JobID, host: sp.Host, id: sp.Step, n: sp.N, dir: sp.Dir}
	fs := &files{s: s}
	in, out, errf, err := fs.stdio(rank)
	if err != nil {
		fmt.Fprintf(stderr, "srun: error: task %d: %v\n", rank, err)
		return 127
	}
	for fd, f := range map[int]*os.File{0: in, 1: out, 2: errf} {
		if f != nil {
			if err := unix.Dup2(int(f.Fd()), fd); err != nil {
				fmt.Fprintf(stderr, "srun: error: task %d: dup2: %v\n", rank, err)
				return 127
			}
		}
	}
	fs.close()
	if err := os.Chdir(sp.Dir); err != nil {
		fmt.Fprintf(os.Stderr, "srun: error: task %d: %v\n", rank, err)
		return 127
	}
	argv := os.Args[1:]
	sort.Strings(kept)
	err = syscall.Exec(sp.Prog, argv, kept)
	fmt.Fprintf(os.Stderr, "srun: error: task %d: %s: %v\n", rank, sp.Prog, err)
	return 127
}

// rankOf is the rank an MPI launcher gave this process, or -1.
func rankOf() int {
	for _, k := range []string{"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"} {
		if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n >= 0 {
			return n
		}
	}
	return -1
}

func itoa(n int) string { return strconv.Itoa(n) }
