package srun

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"lazarus/jobs"
)

// step is one srun: a job step of n tasks of one program.
type step struct {
	o      *options
	jobID  string
	host   string
	id     int
	n      int
	prog   string     // the program's path
	argv   []string   // its arguments, argv[0] as given
	progs  []taskProg // with --multi-prog, each task's
	dir    string     // where the tasks run
	env    []string   // the tasks' environment but for their ranks
	jobEnv []string   // the environment of an MPI launcher
}

// stepFile, in the job's own TMPDIR, holds the number of the next step.
const stepFile = ".lazarus-srun-steps"

// nextStepID numbers the steps of a job from 0, as Slurm does, across
// the sruns of a script, those that run at once too (the counter is
// taken under flock). Without the job's TMPDIR, every step is 0.
func nextStepID() int {
	dir := os.Getenv("LAZARUS_TMPDIR")
	if dir == "" {
		return 0
	}
	f, err := os.OpenFile(filepath.Join(dir, stepFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0
	}
	defer f.Close()
	for {
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != unix.EINTR {
			break
		}
	}
	buf := make([]byte, 32)
	k, _ := f.ReadAt(buf, 0)
	id, err := strconv.Atoi(strings.TrimSpace(string(buf[:k])))
	if err != nil || id < 0 {
		id = 0
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(id+1)+"\n"), 0)
	}
	return id
}

// setEnv sets k=v in env, replacing any k.
func setEnv(env []string, k, v string) []string {
	prefix := k + "="
	for i, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			env[i] = prefix + v
			return env
		}
	}
	return append(env, prefix+v)
}

func getEnv(env []string, k string) (string, bool) {
	prefix := k + "="
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, prefix); ok {
			return v, true
		}
	}
	return "", false
}

// exportEnv is the environment --export gives the tasks: ALL (the
// default) srun's own; NONE only the SLURM_* variables; a list the
// variables named (NAME or NAME=value), with srun's own with ALL.
func exportEnv(spec string, own []string) ([]string, error) {
	if spec == "" || spec == "ALL" {
		return append([]string(nil), own...), nil
	}
	var out []string
	keepSlurm := func() {
		for _, kv := range own {
			if strings.HasPrefix(kv, "SLURM_") || strings.HasPrefix(kv, "LAZARUS_") {
				out = append(out, kv)
			}
		}
	}
	if spec == "NONE" || spec == "NIL" {
		keepSlurm()
		return out, nil
	}
	items := strings.Split(spec, ",")
	all := false
	for _, it := range items {
		if it == "ALL" {
			all = true
		}
	}
	if all {
		out = append(out, own...)
	} else {
		keepSlurm()
	}
	for _, it := range items {
		switch {
		case it == "ALL":
		case it == "" || it == "NONE" || it == "NIL" || strings.HasPrefix(it, "="):
			return nil, fmt.Errorf("--export=%s: %q is not a variable", spec, it)
		case strings.Contains(it, "="):
			k, v, _ := strings.Cut(it, "=")
			out = setEnv(out, k, v)
		default:
			if v, ok := getEnv(own, it); ok {
				out = setEnv(out, it, v)
			}
		}
	}
	return out, nil
}

// stepEnv adds what every task of the step sees to env.
func (s *step) stepEnv(env []string) []string {
	n := strconv.Itoa(s.n)
	for _, kv := range [][2]string{
		{"SLURM_JOB_ID", s.jobID}, {"SLURM_JOBID", s.jobID},
		{"SLURM_STEP_ID", strconv.Itoa(s.id)}, {"SLURM_STEPID", strconv.Itoa(s.id)},
		{"SLURM_NTASKS", n}, {"SLURM_NPROCS", n}, {"SLURM_STEP_NUM_TASKS", n},
		{"SLURM_STEP_NUM_NODES", "1"}, {"SLURM_STEP_NODELIST", s.host},
		{"SLURM_STEP_TASKS_PER_NODE", n}, {"SLURM_TASKS_PER_NODE", n},
		{"SLURM_NNODES", "1"}, {"SLURM_NODEID", "0"},
		{"SLURMD_NODENAME", s.host}, {"SLURM_TOPOLOGY_ADDR", s.host},
		{"SLURM_SRUN_COMM_HOST", "127.0.0.1"}, {"SLURM_LAUNCH_NODE_IPADDR", "127.0.0.1"},
	} {
		env = setEnv(env, kv[0], kv[1])
	}
	for _, k := range []string{"SLURM_NODELIST", "SLURM_JOB_NODELIST"} {
		if _, ok := getEnv(env, k); !ok {
			env = setEnv(env, k, s.host)
		}
	}
	if _, ok := getEnv(env, "SLURM_JOB_NUM_NODES"); !ok {
		env = setEnv(env, "SLURM_JOB_NUM_NODES", "1")
	}
	if s.o.cpusPerTask > 0 {
		env = setEnv(env, "SLURM_CPUS_PER_TASK", strconv.Itoa(s.o.cpusPerTask))
	}
	return env
}

// taskEnv is the environment of task rank.
func taskEnv(env []string, n, rank int) []string {
	env = append([]string(nil), env...)
	r := strconv.Itoa(rank)
	env = setEnv(env, "SLURM_PROCID", r)
	env = setEnv(env, "SLURM_LOCALID", r)
	gtids := make([]string, n)
	for i := range gtids {
		gtids[i] = strconv.Itoa(i)
	}
	return setEnv(env, "SLURM_GTIDS", strings.Join(gtids, ","))
}

// expand fills the filename pattern of -o, -e or -i for task rank
// (Slurm's: %t the task, %j %J %s the job and step, %N %n the node, %u,
// %x, %A %a of an array, %%).
func (s *step) expand(pattern string, rank int) (string, error) {
	userName := strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		userName = u.Username
	}
	p, err := jobs.ExpandSlurmFilename(pattern, func(c byte) (string, bool) {
		switch c {
		case 't':
			return strconv.Itoa(rank), true
		case 'j':
			return s.jobID, true
		case 'J':
			return s.jobID + "." + strconv.Itoa(s.id), true
		case 's':
			return strconv.Itoa(s.id), true
		case 'N':
			return s.host, true
		case 'n':
			return "0", true
		case 'u':
			return userName, true
		case 'x':
			return os.Getenv("SLURM_JOB_NAME"), true
		case 'A':
			if v := os.Getenv("SLURM_ARRAY_JOB_ID"); v != "" {
				return v, true
			}
			return s.jobID, true
		case 'a':
			if v := os.Getenv("SLURM_ARRAY_TASK_ID"); v != "" {
				return v, true
			}
			return "4294967294", true
		}
		return "", false
	})
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.dir, p)
	}
	return p, nil
}

// files opens the files of -o, -e and -i, each path once.
type files struct {
	s      *step
	byPath map[string]*os.File
}

func (fs *files) open(pattern string, rank int, write bool) (*os.File, error) {
	if pattern == "none" || pattern == "/dev/null" {
		pattern = os.DevNull
	}
	path := pattern
	if pattern != os.DevNull {
		var err error
		if path, err = fs.s.expand(pattern, rank); err != nil {
			return nil, err
		}
	}
	if f := fs.byPath[path]; f != nil {
		return f, nil
	}
	flags := os.O_RDONLY
	if write {
		flags = os.O_WRONLY | os.O_CREATE
		if fs.s.o.openAppend {
			flags |= os.O_APPEND
		} else if path != os.DevNull {
			flags |= os.O_TRUNC
		}
	}
	f, err := os.OpenFile(path, flags, 0o666)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %v", path, pe.Err)
		}
		return nil, err
	}
	if fs.byPath == nil {
		fs.byPath = map[string]*os.File{}
	}
	fs.byPath[path] = f
	return f, nil
}

func (fs *files) close() {
	for _, f := range fs.byPath {
		f.Close()
	}
}

// stdio opens task rank's standard descriptors from -i, -o and -e; nil
// for a stream that is srun's own. With -o only, standard error goes
// where standard output does, as in Slurm.
func (fs *files) stdio(rank int) (in, out, errf *os.File, err error) {
	o := fs.s.o
	switch {
	case o.input == "" || o.input == "all":
	case o.input == "none":
		in, err = fs.open(os.DevNull, rank, false)
	default:
		if n, aerr := strconv.Atoi(o.input); aerr == nil {
			if n != rank {
				in, err = fs.open(os.DevNull, rank, false)
			}
		} else {
			in, err = fs.open(o.input, rank, false)
		}
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if o.output != "" {
		if out, err = fs.open(o.output, rank, true); err != nil {
			return nil, nil, nil, err
		}
		errf = out
	}
	if o.errput != "" {
		if errf, err = fs.open(o.errput, rank, true); err != nil {
			return nil, nil, nil, err
		}
	}
	return in, out, errf, nil
}
