package ckpt

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The keeper of a lazy restore. The pages of a lazily restored tree are
// served by the restorer's loader (lazy.go) through userfaultfds. If the
// last descriptor of such a userfaultfd is closed, the kernel unregisters
// its ranges (userfaultfd_release) and every later fault in them maps a
// zero page, or a fault already waiting is answered with VM_FAULT_NOPAGE
// and retried onto a zero page: a restorer killed (SIGKILL, OOM) before
// every page is in would leave the job computing on zeros.
//
// So the restorer is never the only holder: a keeper process, started by
// newLazyLoader from our own executable (/proc/self/exe, recognised by
// keeperEnv in init), in a session of its own (no terminal signal, no kill
// of the restorer's process group reaches it), is given a duplicate of
// every userfaultfd of the tree, the children's too as they fork, and a
// pidfd of every process of the tree, over a SOCK_SEQPACKET socket (the
// descriptors in flight are held by its socket even before it reads them).
// While it holds them the ranges stay registered: a fault nobody answers
// waits. When the loader is done (every page in, or the tree killed for a
// bad segment) it says so ('D') and the keeper ends. When the socket
// reaches its end without that, the restorer is gone with pages missing:
// the keeper kills the whole tree (descendants included) with SIGKILL and
// says why on its standard error (the restorer's). The job thus never runs
// on a page that did not come from the image: it finishes right, because
// the loader lived, or it is killed.
//
// The one window left: a child forked while pages are missing gets its
// userfaultfd from the fork event the loader reads; if the restorer dies
// between that read and handing it to the keeper, the child's ranges are
// unregistered as the restorer's copy closes, and the child could read a
// zero page in the instant before the keeper (which has seen the socket
// end at the same moment) kills the tree.

// keeperEnv marks the keeper's execution of our executable; its value is
// the descriptor of its socket.
const keeperEnv = "LAZARUS_CKPT_LAZY_KEEPER"

// keeperComm is the keeper's name in ps.
const keeperComm = "lazarus-keeper"

// Messages to the keeper: a kind byte, then an id (little-endian uint32).
const (
	keepMM    = 'M' // a userfaultfd (id), and with it a pidfd of its process
	keepFork  = 'F' // a userfaultfd (id) of a forked child
	keepClose = 'C' // the loader closed userfaultfd id: close it too
	keepProcs = 'P' // pidfds of processes of the tree
	keepDone  = 'D' // the loader is done: end
)

func init() {
	if v := os.Getenv(keeperEnv); v != "" {
		os.Exit(runKeeper(v))
	}
}

// keeper is the restorer's side of the keeper process.
type keeper struct {
	mu   sync.Mutex
	sock int // -1 once done
	cmd  *exec.Cmd
	ids  atomic.Uint32
}

// startKeeper starts the keeper of a lazy restore of image.
func startKeeper(image string) (*keeper, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lazy restore: keeper: %w", os.NewSyscallError("socketpair", err))
	}
	theirs := os.NewFile(uintptr(fds[1]), "keeper")
	defer theirs.Close()
	cmd := exec.Command("/proc/self/exe", image)
	cmd.Args[0] = keeperComm
	cmd.Env = []string{keeperEnv + "=3"}
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("lazy restore: start the keeper: %w", err)
	}
	return &keeper{sock: fds[0], cmd: cmd}, nil
}

// send gives the keeper a message and descriptors (duplicated in flight).
// A keeper that is gone (killed on purpose) makes it fail: the loader goes
// on, the restorer still holds everything.
func (k *keeper) send(kind byte, id uint32, fds ...int) {
	if k == nil {
		return
	}
	var msg [5]byte
	msg[0] = kind
	binary.LittleEndian.PutUint32(msg[1:], id)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sock < 0 {
		return
	}
	for {
		if err := unix.Sendmsg(k.sock, msg[:], oob, nil, unix.MSG_NOSIGNAL); err != unix.EINTR {
			return
		}
	}
}

// procs gives the keeper a pidfd of each of pids (the whole tree).
func (k *keeper) procs(pids []int) {
	if k == nil {
		return
	}
	for _, pid := range pids {
		pfd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // ended already
		}
		k.send(keepProcs, 0, pfd)
		unix.Close(pfd)
	}
}

// done tells the keeper the loader is done, and waits for it to end.
func (k *keeper) done() {
	if k == nil {
		return
	}
	k.send(keepDone, 0)
	k.mu.Lock()
	unix.Close(k.sock)
	k.sock = -1
	k.mu.Unlock()
	k.cmd.Wait()
}

// runKeeper is the keeper process: it holds what it is sent until told
// done, or kills the tree when its socket ends first.
func runKeeper(sockEnv string) int {
	os.Unsetenv(keeperEnv)
	name := append([]byte(keeperComm), 0)
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
	// Not ended by what ends a terminal session or a process group; it
	// ends by itself, as soon as the restorer does.
	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGPIPE)
	sock, err := strconv.Atoi(sockEnv)
	if err != nil {
		return 2
	}
	image := ""
	if len(os.Args) > 1 {
		image = os.Args[1]
	}
	server := os.Getppid()
	uffds := map[uint32]int{}
	var pidfds []int
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			break
		}
		var fds []int
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, cm := range cms {
				if rights, err := unix.ParseUnixRights(&cm); err == nil {
					fds = append(fds, rights...)
				}
			}
		}
		if n < 5 {
			continue
		}
		id := binary.LittleEndian.Uint32(buf[1:])
		switch buf[0] {
		case keepMM, keepFork:
			if len(fds) > 0 {
				uffds[id] = fds[0]
				pidfds = append(pidfds, fds[1:]...)
			}
		case keepProcs:
			pidfds = append(pidfds, fds...)
		case keepClose:
			if fd, ok := uffds[id]; ok {
				unix.Close(fd)
				delete(uffds, id)
			}
			for _, fd := range fds {
				unix.Close(fd)
			}
		case keepDone:
			return 0
		}
	}
	if len(pidfds) == 0 {
		return 0 // the restore never got as far as a process
	}
	killed := killTree(pidfds)
	if len(killed) == 0 {
		return 0 // the tree had ended already
	}
	fmt.Fprintf(os.Stderr, "restart: lazy restore of %s: the restart serving its pages (pid %d) ended before every page was in: killed the job (pid %s) rather than let it read missing memory as zeros\n",
		image, server, strings.Trim(fmt.Sprint(killed), "[]"))
	return 1
}

// killTree kills the processes of pidfds and all their descendants, and
// returns the pids it killed, the known ones first.
func killTree(pidfds []int) []int {
	var roots, killed []int
	pids := make([]int, len(pidfds))
	for i, pfd := range pidfds {
		if pids[i] = pidfdPid(pfd); pids[i] > 0 {
			roots = append(roots, pids[i])
		}
	}
	seen := map[int]bool{}
	// Descendants are found before any is killed (a killed parent's
	// children are moved to another), then again after, for a fork that
	// raced the first pass.
	for pass := 0; pass < 3; pass++ {
		var found []int
		var walk func(pid int)
		walk = func(pid int) {
			for _, c := range procChildren(pid) {
				if !seen[c] {
					seen[c] = true
					found = append(found, c)
					walk(c)
				}
			}
		}
		for _, pid := range roots {
			walk(pid)
		}
		if pass == 0 {
			for i, pfd := range pidfds {
				if pids[i] > 0 && unix.PidfdSendSignal(pfd, unix.SIGKILL, nil, 0) == nil {
					killed = append(killed, pids[i])
				}
			}
		}
		for _, pid := range found {
			if unix.Kill(pid, unix.SIGKILL) == nil {
				killed = append(killed, pid)
			}
		}
		if pass > 0 && len(found) == 0 {
			break
		}
	}
	var out []int
	dup := map[int]bool{}
	for _, pid := range killed {
		if pid > 0 && !dup[pid] {
			dup[pid] = true
			out = append(out, pid)
		}
	}
	return out
}

// pidfdPid returns the pid of a pidfd's process (its fdinfo), or 0 once it
// has ended (-1 there).
func pidfdPid(pfd int) int {
	f, err := os.Open(filepath.Join("/proc/self/fdinfo", strconv.Itoa(pfd)))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Pid:"); ok {
			pid, _ := strconv.Atoi(strings.TrimSpace(v))
			return max(pid, 0)
		}
	}
	return 0
}

// procChildren returns the children of every thread of pid.
func procChildren(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, t := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}
