// Package daemon is lazarusd: it wires the store (queue), the scheduler,
// the configuration and the job supervisors together, serves the protocol
// (internal/proto) on the state directory's socket, and is the only part of
// the batch system that acts: the scheduler decides, the daemon records the
// decision in the store, then carries it out.
//
// # State directory
//
//	$LAZARUS_HOME/            (--state-dir, default /var/lib/lazarus)
//	    lazarus.conf          configuration (package config); optional
//	    lazarus.db            bbolt store (package queue)
//	    lazarusd.lock         holds the running daemon's pid (it flocks the directory itself)
//	    lazarusd.sock         protocol socket
//	    host.key              authenticates the checkpoint images (mode 0600)
//	    spool/<id>            each job's script, copied at submission
//	    spool/<id>.ckpt/<n>/  the job's checkpoint generations (root only)
//	    run/<id>/             each started job's supervisor (package supervisor)
//	    accounting/YYYYMMDD   the accounting log, one file a day (accounting.go)
//
// # Invariants
//
//   - One daemon per state directory (a flock on the directory, which
//     cannot be unlinked away, the lock file, and bbolt's own lock).
//   - Every change is in the store before it is acknowledged or acted on: a
//     job is recorded as running before its supervisor starts, as exiting
//     before its supervisor is told to kill it; a submission's script is
//     durable before its record, and its record before qsub gets its id.
//   - Jobs never depend on the daemon: supervisors run in sessions of their
//     own, and the daemon stopping (SIGTERM, or kill -9) leaves them be. On
//     start, the daemon re-adopts live supervisors and collects the records
//     of runs that ended meanwhile.
//   - Checkpoints (checkpoint.go): a checkpoint is recorded (the job
//     checkpointing, its generation number taken) before its helper starts;
//     a generation is recorded only once durable, and older ones are deleted
//     only after that; at most one checkpoint of a job runs at once. Its
//     helper, in a session of its own, outlives the daemon, and a daemon
//     that starts settles what a previous one left in progress.
//   - A bad request gets an error reply; it never stops the daemon.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"
	"golang.org/x/sys/unix"

	"lazarus/config"
	"lazarus/internal/proto"
	"lazarus/internal/supervisor"
	"lazarus/jobs"
	"lazarus/queue"
)

// Files and directories in the state directory.
const (
	dbFile   = "lazarus.db"
	lockFile = "lazarusd.lock"
	spoolDir = "spool"
	runDir   = "run"
)

// ErrRunning is returned when another daemon uses the state directory.
var ErrRunning = errors.New("is another lazarusd using this state dir?")

// Options configure Run.
type Options struct {
	StateDir string
	Logger   *slog.Logger
	// Level is the logger's level, set from lazarus.conf (log_level) unless
	// LevelFixed; nil: not adjustable.
	Level      *slog.LevelVar
	LevelFixed bool
	// Exe is the lazarusd binary that runs supervisors; default
	// /proc/self/exe, which stays valid when the file is replaced by an
	// upgrade.
	Exe string
	// Machine overrides the detected CPUs and memory (tests).
	Machine *config.Machine
	// Ready, if set, is called once the daemon accepts requests.
	Ready func()
}

// Daemon is a running lazarusd.
type Daemon struct {
	opts     Options
	log      *slog.Logger
	dir      string
	machine  config.Machine
	store    *queue.Store
	started  time.Time
	uid      int
	hostname string
	keyFile  string // the host key (supervisor.HostKey)
	binDir   string // where lazarusd and the other commands are (jobPlace)

	cfgMu sync.RWMutex
	cfg   config.Config

	kick     chan struct{} // wakes the scheduling loop
	watch    *watcher
	shutdown context.CancelFunc // ends Run (qmgr shutdown)
	ctx      context.Context    // Run's: done when the daemon stops

	ckpts   ckptTable
	terms   termWaits   // runs to start with a terminal (interactive.go)
	records *recorder   // changes waiting for the disk (record.go)
	acct    *acctWriter // the accounting log (accounting.go)
	mail    *mailer     // job mail (mail.go)
	cronMu  sync.Mutex
	cron    *cron.Cron
	entries map[jobs.ID]cron.EntryID // periodic checkpoints

	// paused stops the scheduler from starting jobs: requeue all and
	// shutdown requeue set it, qmgr "start scheduling" clears it.
	paused atomic.Bool
	// nodeComment is the comment of the last pbsnodes -o or -r.
	nodeComment atomic.Pointer[string]
	// cl is the daemon's part in a cluster (cluster.go); nil on a single host.
	cl *clusterMode
}

// Run runs the daemon until ctx is done or an operator asks it to shut
// down. Stopping leaves every job running.
func Run(ctx context.Context, opts Options) (retErr error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Exe == "" {
		opts.Exe = "/proc/self/exe"
	}
	dir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return err
	}
	machine := config.DetectMachine()
	if opts.Machine != nil {
		machine = *opts.Machine
	}
	host, _ := os.Hostname()
	d := &Daemon{
		opts: opts, log: log, dir: dir, machine: machine, started: time.Now().Round(0),
		uid: os.Getuid(), hostname: host, kick: make(chan struct{}, 1),
		ckpts:   ckptTable{ops: map[jobs.ID]*ckptOp{}, tried: map[jobs.ID]time.Time{}},
		entries: map[jobs.ID]cron.EntryID{}, records: newRecorder(), acct: newAcctWriter(), mail: newMailer(),
		binDir: commandDir(),
	}
	// Descriptors we inherited (from a shell, a service manager) must not
	// reach supervisors and jobs: a job holding a pipe or a socket of the
	// outside world cannot be checkpointed.
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	// Caught, not ignored (an ignored signal would stay ignored in the
	// jobs): SIGHUP reloads the configuration; SIGPIPE, which a log reader
	// that went away would send, is dropped, so that the daemon goes on.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)

	if err := d.makeDirs(); err != nil {
		return err
	}
	unlock, err := lockStateDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if d.keyFile, err = supervisor.HostKey(dir); err != nil {
		return err
	}

	cfg, err := config.Load(d.configPath(), machine)
	if err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	d.setConfig(cfg)
	d.checkMTA()

	storeOpts := queue.Options{
		Logger: log.With("component", "store"), Account: d.accountLines, Accounted: d.acct.accounted,
	}
	if len(cfg.EtcdEndpoints) > 0 {
		// Cluster mode (cluster.go): the node joins first, so that the
		// fence file exists before any supervisor is started.
		if err := d.joinCluster(ctx, cfg); err != nil {
			return fmt.Errorf("join the cluster (etcd at %s): %w", strings.Join(cfg.EtcdEndpoints, ","), err)
		}
		defer func() { d.cl.node.Close(); d.cl.client.Close() }()
		// The shared directory is the site's (a shared file system); made
		// here if missing, as the state directory is.
		if err := os.MkdirAll(cfg.SharedDir, 0o755); err != nil {
			return fmt.Errorf("shared_dir: %w", err)
		}
		if d.keyFile, err = supervisor.HostKey(cfg.SharedDir); err != nil {
			return fmt.Errorf("the cluster key: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(cfg.SharedDir, ckptSharedDir), 0o711); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(cfg.SharedDir, acctDir), 0o750); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(cfg.SharedDir, endsSharedDir), 0o700); err != nil {
			return err
		}
	}
	store, closeStore, err := openStore(ctx, cfg, dir, storeOpts)
	if err != nil {
		return err
	}
	d.store = store
	defer func() {
		if err := closeStore(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	if n := d.store.Unreadable(); n > 0 {
		log.Error("some records of the store could not be read and are ignored", "count", n)
	}
	if err := d.firstStart(); err != nil {
		return err
	}
	d.cleanSpool()

	ctx, cancel := context.WithCancel(ctx)
	d.shutdown, d.ctx = cancel, ctx
	var (
		wg     sync.WaitGroup
		srv    *server
		timers *cron.Cron
	)
	// Everything that writes to the store ends before the store closes
	// (the store's deferred Close runs after this).
	defer func() {
		cancel()
		if srv != nil {
			srv.stop()
		}
		if timers != nil {
			<-timers.Stop().Done()
		}
		wg.Wait()
		if d.watch != nil {
			d.watch.stop()
		}
		d.flushAccounting()
	}()

	d.watch, err = newWatcher(log.With("component", "watcher"), d.collect)
	if err != nil {
		return err
	}
	timers = cron.New(cron.WithChain(cron.Recover(cronLogger{log}), cron.SkipIfStillRunning(cronLogger{log})),
		cron.WithLogger(cronLogger{log.With("component", "cron")}))
	d.cronMu.Lock()
	d.cron = timers
	d.cronMu.Unlock()
	// Before recover, whose records may have to wait for space.
	wg.Go(func() { d.recordLoop(ctx) })
	// Records a previous daemon left in the outbox, before anything new.
	d.flushAccounting()
	wg.Go(func() { d.accountLoop(ctx) })
	wg.Go(func() { d.mailLoop(ctx) })
	d.recover()
	d.syncArrays() // subjob ends recorded before a crash that their arrays missed

	ln, err := d.listen()
	if err != nil {
		return err
	}
	srv = newServer(d, ln)
	wg.Go(func() { srv.serve(ctx) })
	if d.cl != nil {
		wg.Go(func() { d.nodeLoop(ctx) })
		wg.Go(func() { d.cl.node.Serve(ctx, d.handleForwarded) })
		wg.Go(func() { d.cl.node.Lead(ctx, d.serve) })
	} else {
		wg.Go(func() { d.scheduleLoop(ctx) })
	}

	if _, err := timers.AddFunc("@every 10m", d.purge); err != nil {
		return err
	}
	if _, err := timers.AddFunc("@every 1h", d.sweepSpool); err != nil {
		return err
	}
	timers.Start()
	d.purge()

	log.Info("lazarusd started", "state_dir", dir, "pid", os.Getpid(), "slots", d.config().Slots)
	if opts.Ready != nil {
		opts.Ready()
	}
	for {
		select {
		case <-ctx.Done():
			log.Info("lazarusd stopping; jobs keep running")
			return nil
		case <-hup:
			d.reload()
		case <-pipe:
		}
	}
}

func (d *Daemon) configPath() string { return filepath.Join(d.dir, config.FileName) }

func (d *Daemon) config() config.Config {
	d.cfgMu.RLock()
	defer d.cfgMu.RUnlock()
	return d.cfg
}

func (d *Daemon) setConfig(c config.Config) {
	d.cfgMu.Lock()
	d.cfg = c
	d.cfgMu.Unlock()
	if d.opts.Level != nil && !d.opts.LevelFixed {
		var l slog.Level
		if err := l.UnmarshalText([]byte(c.LogLevel)); err == nil {
			d.opts.Level.Set(l)
		}
	}
	d.wake()
}

// reload rereads lazarus.conf (SIGHUP); a bad file is reported and the
// running configuration kept.
func (d *Daemon) reload() {
	c, err := config.Load(d.configPath(), d.machine)
	if err != nil {
		d.log.Error("configuration not reloaded", "error", err)
		return
	}
	d.setConfig(c)
	d.rescheduleAll()
	d.log.Info("configuration reloaded", "slots", c.Slots, "default_queue", c.DefaultQueue)
}

// wake asks the scheduling loop for a pass.
func (d *Daemon) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Daemon) makeDirs() error {
	for _, sub := range []struct {
		path string
		mode os.FileMode
	}{{"", 0o755}, {spoolDir, 0o711}, {runDir, 0o700}, {tmpDir, 0o711}, {auxDir, 0o711}, {acctDir, 0o750}} {
		p := filepath.Join(d.dir, sub.path)
		if err := os.MkdirAll(p, sub.mode); err != nil {
			return err
		}
	}
	return nil
}

// firstStart creates the default queue in a new store.
func (d *Daemon) firstStart() error {
	if len(d.store.View().Queues()) > 0 {
		return nil
	}
	name := d.config().DefaultQueue
	err := d.store.CreateQueue(queue.NewQueue(name, time.Now().Round(0)))
	if err != nil && !errors.Is(err, queue.ErrQueueExists) {
		return fmt.Errorf("create queue %s: %w", name, err)
	}
	d.log.Info("created the default queue", "queue", name)
	return nil
}

// lockStateDir takes the daemon lock of a state directory, or says which
// daemon has it. The lock is a flock on the directory itself, which no one
// can unlink from under the daemon (a lock on a file alone was lost with
// the file: rm lazarusd.lock let a second daemon start). The lock file
// still tells which process holds the lock, and is flocked too, so that a
// daemon of an older version, which knows only that lock, sees it taken.
func lockStateDir(dir string) (unlock func(), retErr error) {
	dfd, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			unix.Close(dfd)
		}
	}()
	path := filepath.Join(dir, lockFile)
	if err := flockNB(dfd, dir); err != nil {
		return nil, lockHeld(err, dir, path)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			f.Close()
		}
	}()
	if err := flockNB(int(f.Fd()), path); err != nil {
		return nil, lockHeld(err, dir, path)
	}
	if err := f.Truncate(0); err != nil {
		return nil, err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return nil, err
	}
	return func() {
		f.Close()
		unix.Close(dfd)
	}, nil
}

// openDir opens a directory for flock; the descriptor is close-on-exec, so
// that supervisors and checkpoint helpers, which outlive the daemon, never
// hold its lock.
func openDir(dir string) (int, error) {
	for {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			if err != nil {
				return -1, &os.PathError{Op: "open", Path: dir, Err: err}
			}
			return fd, nil
		}
	}
}

// flockNB takes an exclusive flock without waiting; errLockTaken if
// another open file holds one.
func flockNB(fd int, path string) error {
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		switch err {
		case unix.EINTR:
			continue
		case nil:
			return nil
		case unix.EWOULDBLOCK:
			return errLockTaken
		}
		return os.NewSyscallError("flock "+path, err)
	}
}

var errLockTaken = errors.New("lock taken")

// lockHeld turns a failure to take the lock into the error a person reads:
// which daemon has the state directory, if its lock file still says.
func lockHeld(err error, dir, path string) error {
	if !errors.Is(err, errLockTaken) {
		return err
	}
	b, _ := os.ReadFile(path)
	if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
		return fmt.Errorf("%s is locked by pid %d: %w", dir, pid, ErrRunning)
	}
	return fmt.Errorf("%s is locked: %w", dir, ErrRunning)
}

// listen opens the protocol socket; a socket left by a daemon that died is
// replaced (we hold the lock, so nobody listens on it).
func (d *Daemon) listen() (*net.UnixListener, error) {
	path := proto.SocketPath(d.dir)
	// sockaddr_un holds 108 bytes, with the terminating NUL.
	if len(path) > 107 {
		return nil, fmt.Errorf("socket path %s is %d bytes long, more than the 107 a unix socket allows: use a shorter state directory", path, len(path))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(true)
	// Anyone may connect; the kernel tells who they are.
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ log *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.log.Debug(msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.log.Error(msg, append(kv, "error", err)...)
}

// commandDir is the directory of the lazarusd binary when the batch
// commands a job runs by name (srun) are installed beside it; "" if not.
func commandDir() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	dir := filepath.Dir(exe)
	if st, err := os.Stat(filepath.Join(dir, "srun")); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return ""
	}
	return dir
}
