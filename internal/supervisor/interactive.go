package supervisor

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/internal/proto"
)

// Interactive jobs (qsub -I). A run with Spec.Terminal gets a pseudo
// terminal of the supervisor's: the supervisor opens /dev/ptmx and keeps
// the master, outside the job's tree; the job's first process gets the
// slave as its standard descriptors and control terminal (a fresh start:
// the login shell is a session leader on it), or the supervisor makes the
// slave its own control terminal before it restores the tree (a restart
// with a terminal: ckpt.Restart gives the restored tree the restarter's
// terminal, the CONVEX rule). Either way a checkpoint sees a tree whose
// terminal has its master outside: the slave descriptors are recorded as
// the control terminal, and every restart re-points them, to a new pty
// (qrestart --attach) or, in batch, to the job's output file (-F).
//
// The user's side reaches the master through the connection the daemon
// hands over on TTYSocket (proto/term.go): the supervisor relays the
// master's output to it in frames and writes its input frames to the
// master, and sets the window size it reports. Nothing is read from the
// master before a client attaches, so what the job writes first waits in
// the pty. The end of the connection ends the session: the job's terminal
// hangs up (hangup) and, hangupGrace later, the job is killed, with the
// reason recorded, as PBS ends an interactive job whose qsub has gone. A
// run nobody attaches to within attachWait is killed too. One client per
// run: a second is refused with a FrameExit.

// TTYSocket is the run directory's socket on which the daemon hands the
// supervisor of a run with a terminal the client's connection.
const TTYSocket = "tty.sock"

// hangupGrace is what the job has, after its terminal hung up, before
// it is killed.
const hangupGrace = time.Second

// attachWait bounds the wait for the first client of a run with a
// terminal (the daemon hands it over as soon as the run has started).
const attachWait = 2 * time.Minute

// Reasons recorded when the session ends the job.
const (
	reasonSessionGone = "interactive session ended: its qsub -I (or qrestart --attach) exited or lost its terminal"
	reasonNoAttach    = "interactive job: no terminal attached within %s of its start (qsub -I had gone)"
)

// ptyRelay is a run's terminal: the master and the session's client.
type ptyRelay struct {
	log    *slog.Logger
	runDir string
	jobID  uint64
	master *os.File
	slave  *os.File // the job's side, until the job has it
	name   string   // /dev/pts/N
	ln     *net.UnixListener
	wait   *time.Timer

	gone    chan string   // the client went away, with why
	outDone chan struct{} // the master read EIO: every slave is closed

	wmu      sync.Mutex // one frame written to the client at a time
	mu       sync.Mutex
	client   net.Conn // nil before the first attach
	attached bool
	ended    bool
}

// openTerminal opens the run's pty: the master is ours, the slave is
// the job user's (mode 0620, as login gives a terminal).
func openTerminal(log *slog.Logger, runDir string, spec *Spec) (_ *ptyRelay, retErr error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open a pseudo terminal: %w", err)
	}
	defer func() {
		if retErr != nil {
			m.Close()
		}
	}()
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return nil, os.NewSyscallError("ioctl TIOCSPTLCK", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		return nil, os.NewSyscallError("ioctl TIOCGPTN", err)
	}
	// Through the master (TIOCGPTPEER), not by name: the slave is ours
	// for sure, whatever /dev/pts holds. Without O_CLOEXEC in the open
	// flags: TIOCGPTPEER keeps them in the description's f_flags, which
	// /proc/PID/fdinfo shows, and a checkpoint would then take every
	// descriptor of the job's terminal for close-on-exec; the flag is set
	// on our descriptor alone.
	sfd, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY))
	if e != 0 {
		return nil, os.NewSyscallError("ioctl TIOCGPTPEER", e)
	}
	unix.CloseOnExec(int(sfd))
	name := fmt.Sprintf("/dev/pts/%d", n)
	s := os.NewFile(sfd, name)
	defer func() {
		if retErr != nil {
			s.Close()
		}
	}()
	// The terminal's group is tty, as login and sshd give it (write and
	// wall are set-group-ID tty), never the job's group: with mode 0620
	// every other member of that group (users, a project's group_list)
	// could write to the job's terminal, escape sequences included. A
	// terminal that is not of group tty is for its owner alone.
	ttyGID := -1
	if g, err := user.LookupGroup("tty"); err == nil {
		if n, err := strconv.Atoi(g.Gid); err == nil {
			ttyGID = n
		}
	}
	if spec.SetIDs {
		gid := int(spec.GID)
		if ttyGID >= 0 {
			gid = ttyGID
		}
		if err := s.Chown(int(spec.UID), gid); err != nil {
			return nil, fmt.Errorf("give %s to uid %d: %w", name, spec.UID, err)
		}
	}
	mode := os.FileMode(0o600)
	if fi, err := s.Stat(); err == nil && ttyGID >= 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Gid) == ttyGID {
			mode = 0o620
		}
	}
	if err := s.Chmod(mode); err != nil {
		return nil, err
	}
	// A size until the client sends its own: programs started before
	// it do not see 0 x 0.
	unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	sock := filepath.Join(runDir, TTYSocket)
	os.Remove(sock)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen for the job's terminal: %w", err)
	}
	return &ptyRelay{
		log: log, runDir: runDir, jobID: spec.JobID, master: m, slave: s, name: name, ln: ln,
		gone: make(chan string, 1), outDone: make(chan struct{}),
	}, nil
}

// started is called once the job has its side: the supervisor's copy of
// the slave is closed (the master reads EIO once the job's are), and
// clients are taken from now on. The accept goroutine ends when the
// listener is closed (close).
func (t *ptyRelay) started() {
	if t == nil {
		return
	}
	t.slave.Close()
	t.slave = nil
	t.wait = time.NewTimer(attachWait)
	go t.accept()
}

// goneC and noAttachC feed the supervisor's loop; nil (never ready) when
// the run has no terminal.
func (t *ptyRelay) goneC() <-chan string {
	if t == nil {
		return nil
	}
	return t.gone
}

func (t *ptyRelay) noAttachC() <-chan time.Time {
	if t == nil || t.wait == nil {
		return nil
	}
	return t.wait.C
}

// accept takes the connections the daemon hands over: one message on a
// connection of the socket, with the client's connection as its
// SCM_RIGHTS descriptor.
func (t *ptyRelay) accept() {
	for {
		c, err := t.ln.AcceptUnix()
		if err != nil {
			return // closed
		}
		client, err := receiveConn(c)
		c.Close()
		if err != nil {
			t.log.Warn("terminal hand-over failed", "error", err)
			continue
		}
		t.attach(client)
	}
}

func receiveConn(c *net.UnixConn) (net.Conn, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil || len(fds) == 0 {
			continue
		}
		for _, fd := range fds[1:] {
			unix.Close(fd)
		}
		f := os.NewFile(uintptr(fds[0]), "client")
		conn, err := net.FileConn(f)
		f.Close()
		return conn, err
	}
	return nil, errors.New("no descriptor in the hand-over message")
}

// attach makes conn the session's client, or refuses it when the run has
// one already (one terminal per job, as PBS has one qsub).
func (t *ptyRelay) attach(conn net.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.attached || t.ended {
		msg := fmt.Sprintf("job %d has a terminal attached already", t.jobID)
		if t.ended {
			msg = fmt.Sprintf("job %d has ended", t.jobID)
		}
		b, _ := json.Marshal(proto.TermExit{Status: 1, Refused: true, Reason: msg})
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		proto.WriteFrame(conn, proto.FrameExit, b)
		conn.Close()
		return
	}
	t.attached, t.client = true, conn
	t.wait.Stop()
	b, _ := json.Marshal(proto.TermReady{ID: t.jobID, TTY: t.name})
	if err := proto.WriteFrame(conn, proto.FrameReady, b); err != nil {
		t.lost()
		return
	}
	t.log.Info("terminal attached", "tty", t.name)
	go t.input(conn)
	go t.output()
}

// lost reports the client gone, once, unless the run has ended.
func (t *ptyRelay) lost() {
	if !t.ended {
		select {
		case t.gone <- reasonSessionGone:
		default:
		}
	}
}

// input writes the client's keystrokes to the master and applies its
// window size; it ends with the connection.
func (t *ptyRelay) input(conn net.Conn) {
	r := bufio.NewReaderSize(conn, 16<<10)
	for {
		typ, b, err := proto.ReadFrame(r)
		if err != nil {
			t.mu.Lock()
			t.lost()
			t.mu.Unlock()
			return
		}
		switch typ {
		case proto.FrameData:
			if _, err := t.master.Write(b); err != nil {
				return // the job's side is gone: the run is ending
			}
		case proto.FrameWinsize:
			rows, cols, err := proto.ParseWinsize(b)
			if err == nil {
				// The kernel sends SIGWINCH to the terminal's
				// foreground process group when the size changes.
				unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
			}
		}
	}
}

// output sends what the job writes to the client, until the master reads
// EIO (every descriptor of the slave closed: the tree is gone).
func (t *ptyRelay) output() {
	defer close(t.outDone)
	buf := make([]byte, 32<<10)
	for {
		n, err := t.master.Read(buf)
		if n > 0 {
			t.mu.Lock()
			c := t.client
			t.mu.Unlock()
			// A client that does not read blocks the job's output, as a
			// terminal that does not scroll does.
			if c != nil {
				t.wmu.Lock()
				err := proto.WriteFrame(c, proto.FrameData, buf[:n])
				t.wmu.Unlock()
				if err != nil {
					t.mu.Lock()
					t.lost()
					t.mu.Unlock()
				}
			}
		}
		if err != nil {
			if !errors.Is(err, unix.EIO) && !errors.Is(err, io.EOF) {
				t.log.Warn("read the job's terminal", "error", err)
			}
			return
		}
	}
}

// close ends the session once the run is recorded: the rest of the job's
// output, then how the run ended, reach the client; then everything of
// the terminal is closed.
func (t *ptyRelay) close(rec *Record) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.ended = true
	attached := t.attached
	c := t.client
	t.mu.Unlock()
	t.ln.Close()
	os.Remove(filepath.Join(t.runDir, TTYSocket))
	if t.slave != nil {
		t.slave.Close()
	}
	if attached {
		select {
		case <-t.outDone:
		case <-time.After(5 * time.Second):
		}
	}
	if c != nil {
		ex := proto.TermExit{Status: rec.ExitCode, Signal: rec.Signal, Reason: rec.Reason}
		if rec.Signal != 0 {
			ex.Status = 128 + rec.Signal
		}
		if rq, err := ReadRequeue(t.runDir); err == nil && rq != nil && !strings.HasPrefix(rec.Reason, "interactive session") {
			ex.Stopped, ex.Status = true, 1
			ex.Reason = fmt.Sprintf("job %d was checkpointed (checkpoint %d) and requeued: it restarts in batch, its terminal pointed to its output file", t.jobID, rq.Gen)
			if rq.Hold {
				ex.Reason = fmt.Sprintf("job %d was checkpointed (checkpoint %d) and held; qrestart --attach %d resumes it on a terminal", t.jobID, rq.Gen, t.jobID)
			}
		}
		if ex.Status < 0 {
			ex.Status = 1
		}
		b, _ := json.Marshal(ex)
		t.wmu.Lock()
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		proto.WriteFrame(c, proto.FrameExit, b)
		t.wmu.Unlock()
		c.Close()
	}
	t.master.Close()
}

// takeTerminal makes the slave the supervisor's control terminal, before
// a restore: ckpt.Restart gives the restored tree the restarter's
// terminal. The supervisor is a session leader without one (Start).
func (t *ptyRelay) takeTerminal() error {
	if err := unix.IoctlSetInt(int(t.slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return os.NewSyscallError("ioctl TIOCSCTTY", err)
	}
	return nil
}

// execLoginShell is the exec-job helper's end for an interactive run: its
// standard input is the job's terminal (its control terminal); standard
// output and error become it too, and the shell runs as a login shell
// ("-" before its name), as login and PBS start it.
func execLoginShell(s *helperSetup, fail func(string, ...any) int) int {
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(0, fd); err != nil {
			return fail("dup2: %v", err)
		}
	}
	argv0 := "-" + filepath.Base(s.Shell)
	// syscall.Exec puts back the RLIMIT_NOFILE soft limit (see ExecJob).
	err := syscall.Exec(s.Shell, []string{argv0}, s.Env)
	return fail("cannot run the login shell %s: %v", s.Shell, err)
}

// hangup does what the kernel does when a terminal hangs up: SIGHUP and
// SIGCONT to the terminal's foreground process group and to the session
// leader (the ids are the kernel's, in our PID namespace). The master
// stays open: the rest of the output is still read.
func (t *ptyRelay) hangup() {
	fd := int(t.master.Fd())
	if pg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err == nil && pg > 0 {
		unix.Kill(-pg, unix.SIGHUP)
		unix.Kill(-pg, unix.SIGCONT)
	}
	if sid, err := unix.IoctlGetInt(fd, unix.TIOCGSID); err == nil && sid > 0 {
		unix.Kill(sid, unix.SIGHUP)
		unix.Kill(sid, unix.SIGCONT)
	}
}
