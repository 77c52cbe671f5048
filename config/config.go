// Package config reads and writes the daemon's configuration file,
// lazarus.conf in the state directory, and says where the state directory
// is. The file holds machine-wide settings (slots, memory, default queue,
// limits, operators); queues themselves live in the store and are managed
// with qmgr.
//
// The format is one "key = value" per line; blank lines and lines starting
// with '#' are ignored; every key has a default, so a missing file or an
// empty one is a valid configuration. Set rewrites one key in place and
// keeps comments, so an administrator's notes survive qmgr "set server".
//
// Invariant: a Config returned by this package has passed Validate.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"lazarus/jobs"
)

// FileName is the name of the configuration file in the state directory.
const FileName = "lazarus.conf"

// DefaultStateDir is the state directory when neither --state-dir nor
// $LAZARUS_HOME says otherwise.
const DefaultStateDir = "/var/lib/lazarus"

// EnvHome is the environment variable that names the state directory, for
// the daemon and for every client command.
const EnvHome = "LAZARUS_HOME"

// StateDir returns the state directory: flag if set, else $LAZARUS_HOME,
// else DefaultStateDir.
func StateDir(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv(EnvHome); env != "" {
		return env
	}
	return DefaultStateDir
}

// Config is the daemon's configuration.
type Config struct {
	Slots          int    // CPUs handed out to jobs (ncpus)
	Memory         int64  // bytes handed out to jobs (mem); 0: memory is not scheduled
	DefaultQueue   string // queue of qsub without -q
	ServerName     string // server part of job ids; "": the host's short name (Server)
	MaxRunning     int    // jobs running at once on the machine; 0: no limit but slots
	MaxUserRunning int    // jobs running at once per user, all queues; 0: no limit
	// MaxUserJobs bounds the jobs one user (not root, not an operator) has
	// in the store, ended ones included until they are purged: each holds
	// its script (up to 16 MiB) in the state directory, which a user
	// submitting without end would fill. 0: no limit.
	MaxUserJobs     int
	DefaultWalltime time.Duration // walltime of jobs that ask for none; 0: none
	MaxWalltime     time.Duration // largest walltime a job may ask for; 0: no limit
	KillGrace       time.Duration // between SIGTERM and SIGKILL when a job is killed
	Operators       []string      // users who manage queues and all jobs, besides root
	// QueryOtherJobs lets every user see every field of every job (qstat
	// -f); false (PBS's default): of other users' jobs, only the summary.
	QueryOtherJobs bool
	KeepFinished   time.Duration // how long finished and failed jobs stay listed
	LogLevel       string        // debug, info, warn or error
	// CheckpointKeep is how many good checkpoint generations each job
	// keeps to restart from (a queue's ckpt_keep overrides it); the
	// generations they need are kept with them (jobs.ToMerge).
	CheckpointKeep int
	// CheckpointCompress is the zstd level of the jobs' images (0: not
	// compressed); a queue's ckpt_compress overrides it.
	CheckpointCompress int
	// CheckpointFullEvery: one generation in this many is
	// self-contained, the others incremental (a queue's ckpt_full_every
	// overrides it); 1: every one.
	CheckpointFullEvery int
	// RestartLazy: jobs restart from their checkpoints lazily (the
	// job runs at once, its memory comes in as it touches it; ckpt's
	// RestartOptions.Lazy).
	RestartLazy bool
	// CheckpointHour is how long an hour of a checkpoint interval lasts:
	// an hour, except for tests and demonstrations, which shorten it.
	CheckpointHour time.Duration
	// MaxConnections bounds the protocol connections of all users but
	// root; MaxUserConnections those of one user (root included).
	MaxConnections     int
	MaxUserConnections int
	// Prologue and Epilogue are the site's scripts ("": the state
	// directory's prologue and epilogue, when they exist); PelogTimeout
	// bounds each run of them.
	Prologue, Epilogue string
	PelogTimeout       time.Duration
	// CheckpointPrologue and CheckpointEpilogue are the site's hooks run
	// before and after each checkpoint of a job ("": the state
	// directory's checkpoint_prologue and checkpoint_epilogue, when they
	// exist), each bounded by PelogTimeout too.
	CheckpointPrologue, CheckpointEpilogue string
	// Sendmail is the MTA of job mail ("": none), MailFrom its sender,
	// MailPerMinute the most mails sent in a minute.
	Sendmail      string
	MailFrom      string
	MailPerMinute int
	// Cluster mode (etcd_endpoints set): the etcd members, the prefix of
	// the cluster's keys, the directory every node shares, and the TLS
	// files of the etcd connection (all optional).
	EtcdEndpoints             []string
	EtcdPrefix                string
	SharedDir                 string
	EtcdCA, EtcdCert, EtcdKey string
	// EtcdInsecure accepts etcd without client certificates: whoever
	// reaches it can write job records that run as root on every node.
	EtcdInsecure bool
	// This node's name in a cluster ("": the host name) and the TTL of
	// its lease (0: 10s); clusterkeys.go.
	NodeName string
	NodeTTL  time.Duration
	// DrainTimeout is how long a drain (pbsnodes -o) may take before the
	// rerunnable jobs still on the node are requeued; 0: no deadline.
	DrainTimeout time.Duration
}

// Machine is what the defaults are made of.
type Machine struct {
	CPUs   int
	Memory int64 // bytes of physical memory
}

// DetectMachine reads this machine's CPU count (the CPUs this process may
// run on) and physical memory (/proc/meminfo MemTotal; 0 if unreadable).
func DetectMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				m.Memory = kb << 10
			}
		}
	}
	return m
}

// Default returns the configuration used when the file sets nothing.
func Default(m Machine) Config {
	return Config{
		Slots:        max(m.CPUs, 1),
		Memory:       m.Memory,
		DefaultQueue: "batch",
		KillGrace:    10 * time.Second,
		KeepFinished: 7 * 24 * time.Hour,
		LogLevel:     "info",

		CheckpointKeep:      2,
		CheckpointFullEvery: 8,
		CheckpointHour:      time.Hour,

		MaxConnections:     1024,
		MaxUserConnections: 64,
		MaxUserJobs:        10000,

		PelogTimeout:  30 * time.Second,
		Sendmail:      "/usr/sbin/sendmail",
		MailFrom:      "adm",
		MailPerMinute: 30,

		EtcdPrefix: "/lazarus",
	}
}

// Server is the server name of job ids (N.SERVER): server_name, or this
// host's short name (up to its first dot), or "localhost".
func (c Config) Server() string {
	if c.ServerName != "" {
		return c.ServerName
	}
	h, err := os.Hostname()
	if h, _, _ = strings.Cut(h, "."); err != nil || h == "" {
		return "localhost"
	}
	return h
}

// CheckpointEvery converts a job's checkpoint interval to the time between
// two checkpoints: the interval itself, unless checkpoint_hour shortens
// hours (tests, demonstrations).
func (c Config) CheckpointEvery(interval time.Duration) time.Duration {
	if c.CheckpointHour <= 0 || c.CheckpointHour == time.Hour {
		return interval
	}
	return time.Duration(float64(interval) * float64(c.CheckpointHour) / float64(time.Hour))
}

// IsOperator reports whether the named user is an operator.
func (c Config) IsOperator(name string) bool { return slices.Contains(c.Operators, name) }

// Validate checks values that are fine one by one but not together.
func (c Config) Validate() error {
	if c.MaxWalltime > 0 && c.DefaultWalltime > c.MaxWalltime {
		return fmt.Errorf("default_walltime %s exceeds max_walltime %s",
			jobs.FormatDuration(c.DefaultWalltime), jobs.FormatDuration(c.MaxWalltime))
	}
	if len(c.EtcdEndpoints) > 0 && c.SharedDir == "" {
		return errors.New("etcd_endpoints is set but shared_dir is not: the nodes of a cluster need a directory they all share")
	}
	if (c.EtcdCert == "") != (c.EtcdKey == "") {
		return errors.New("etcd_cert and etcd_key go together")
	}
	if len(c.EtcdEndpoints) > 0 && !c.EtcdInsecure {
		// The cluster's records are its jobs, owners included: an etcd
		// any local user or host can reach and write is root on every
		// node (a job record owned by uid 0 runs its script as root).
		for _, e := range c.EtcdEndpoints {
			if !strings.HasPrefix(e, "https://") {
				return fmt.Errorf("etcd_endpoints: %s is not https: whoever reaches etcd there can write job records that run as root on every node; give https endpoints with etcd_cert and etcd_key (etcd checking client certificates), or set etcd_insecure = true on a network only the cluster's root can reach", e)
			}
		}
		if c.EtcdCert == "" {
			return errors.New("etcd_endpoints without etcd_cert and etcd_key: an etcd that accepts clients without certificates lets whoever reaches it write job records that run as root on every node; give them (etcd checking client certificates), or set etcd_insecure = true on a network only the cluster's root can reach")
		}
	}
	return nil
}

// Load reads the configuration file at path; a missing file gives the
// defaults.
func Load(path string, m Machine) (Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Default(m), nil
	}
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	c, err := Parse(f, m)
	if err != nil {
		return Config{}, fmt.Errorf("%s:%w", path, err)
	}
	return c, nil
}

// LineError is a problem on one line of the file.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Parse reads a configuration from r, starting from the defaults.
func Parse(r io.Reader, m Machine) (Config, error) {
	c := Default(m)
	sc := bufio.NewScanner(r)
	seen := map[string]int{}
	for n := 1; sc.Scan(); n++ {
		key, val, ok, err := splitLine(sc.Text())
		if err != nil {
			return Config{}, &LineError{n, err}
		}
		if !ok {
			continue
		}
		if prev, dup := seen[key]; dup {
			return Config{}, &LineError{n, fmt.Errorf("%s set again (first on line %d)", key, prev)}
		}
		seen[key] = n
		if err := c.set(key, val); err != nil {
			return Config{}, &LineError{n, err}
		}
	}
	if err := sc.Err(); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// splitLine returns the key and value of a setting line; ok is false for
// blank and comment lines.
func splitLine(line string) (key, val string, ok bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", "", false, nil
	}
	key, val, found := strings.Cut(line, "=")
	if !found {
		return "", "", false, fmt.Errorf("%q: want key = value", line)
	}
	return strings.TrimSpace(key), strings.TrimSpace(val), true, nil
}

func (c *Config) set(key, val string) error {
	k, ok := lookup(key)
	if !ok {
		return fmt.Errorf("unknown setting %q (known: %s)", key, strings.Join(Names(), ", "))
	}
	if err := k.parse(c, val); err != nil {
		return fmt.Errorf("%s = %s: %w", key, val, err)
	}
	return nil
}

// Set validates key = value against the file at path and writes it there:
// the line that sets key is rewritten, or a line is appended; comments and
// other lines are kept. The file is replaced atomically (temp file, fsync,
// rename). It returns the new configuration.
func Set(path string, m Machine, key, value string) (Config, error) {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return Config{}, err
	}
	k, ok := lookup(key)
	if !ok {
		return Config{}, fmt.Errorf("unknown setting %q (known: %s)", key, strings.Join(Names(), ", "))
	}
	value = strings.TrimSpace(value)
	var out bytes.Buffer
	replaced := false
	for _, line := range strings.SplitAfter(string(old), "\n") {
		if kk, _, ok, _ := splitLine(line); ok && kk == key {
			if !replaced {
				fmt.Fprintf(&out, "%s = %s\n", key, value)
				replaced = true
			}
			continue
		}
		out.WriteString(line)
	}
	if !replaced {
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			out.WriteByte('\n')
		}
		fmt.Fprintf(&out, "# %s\n%s = %s\n", k.doc, key, value)
	}
	c, err := Parse(bytes.NewReader(out.Bytes()), m)
	if err != nil {
		var le *LineError
		if errors.As(err, &le) {
			return Config{}, le.Err
		}
		return Config{}, err
	}
	if err := writeFileAtomic(path, out.Bytes()); err != nil {
		return Config{}, err
	}
	return c, nil
}

func writeFileAtomic(path string, data []byte) (retErr error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
