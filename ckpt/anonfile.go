package ckpt

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// anonFile is the state of an anonymous-inode descriptor, read from
// /proc/PID/fdinfo: an eventfd's counter, an epoll instance's interest
// list, a timerfd's clock and settings, a signalfd's mask.
type anonFile struct {
	Type string `json:"type"` // eventfd, eventpoll, timerfd, signalfd

	Count     uint64 `json:"count,omitempty"` // eventfd
	Semaphore bool   `json:"semaphore,omitempty"`

	Watches []epollWatch `json:"watches,omitempty"` // eventpoll

	Clock    int      `json:"clock,omitempty"` // timerfd
	Ticks    uint64   `json:"ticks,omitempty"`
	Value    [2]int64 `json:"value,omitempty"` // remaining: sec, nsec
	Interval [2]int64 `json:"interval,omitempty"`
	// TimerFlags are the flags of its timerfd_settime (TFD_TIMER_ABSTIME,
	// TFD_TIMER_CANCEL_ON_SET); an absolute timer expires at Expires on
	// its clock, as it would have without the checkpoint (timerabs.go).
	TimerFlags int      `json:"timer_flags,omitempty"`
	Expires    [2]int64 `json:"expires,omitempty"`

	SigMask uint64 `json:"sigmask,omitempty"` // signalfd

	Inotify []inotifyWatch `json:"inotify,omitempty"` // inotify

	// Queued is how many bytes of events an inotify instance held unread
	// (fdowner.go): the IN_IGNORED events of its removed watches.
	Queued int `json:"queued,omitempty"`

	// Fanotify: the group and its marks (fanotify.go).
	Fanotify *fanotifyGroup `json:"fanotify,omitempty"`

	// PidfdPID is the pid a pidfd refers to, as the checkpoint saw it
	// (a member of the tree); -1: a process that was gone (pidfd.go).
	PidfdPID int `json:"pidfd_pid,omitempty"`
}

type inotifyWatch struct {
	WD   int    `json:"wd"`
	Mask uint32 `json:"mask"`
	Path string `json:"path"`
	// Inode: a watch on a removed file, one of the tree's unlinked files
	// (unlinkedFile.Inode); Path is then "" (inotifywatch.go).
	Inode string `json:"inode,omitempty"`
	// Handle: a watch on a file still linked under a name its handle
	// does not give: its file handle (type, hex) on device Sdev.
	Handle     string `json:"handle,omitempty"`
	HandleType int32  `json:"handle_type,omitempty"`
	Sdev       uint32 `json:"sdev,omitempty"`
}

type epollWatch struct {
	FD     int    `json:"fd"`
	Events uint32 `json:"events"`
	Data   uint64 `json:"data"`
	// Holder: the descriptor holding the watch's file when FD does not
	// (closed since the watch was added, or the watch added by another
	// process sharing the instance): of this process, or of the process
	// HolderPID of the tree (epollmoved.go).
	Holder    *int `json:"holder,omitempty"`
	HolderPID int  `json:"holder_pid,omitempty"`
	// Reported: edge-triggered, its file ready and its edge collected
	// (epollreported.go).
	Reported bool `json:"reported,omitempty"`
	toff     int  // checkpoint only: 1 + the watch's rank on FD, left for linkEpollWatches
}

func readAnonFile(pid, fd int, kind string) (*anonFile, error) {
	switch kind {
	case "eventfd", "eventpoll", "timerfd", "signalfd", "inotify", "pidfd", "fanotify":
	default:
		return nil, fmt.Errorf("%s: %w", kind, ErrUnsupported)
	}
	if kind == "timerfd" {
		if err := forwardTimerfd(pid, fd); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
	if err != nil {
		return nil, err
	}
	a := &anonFile{Type: kind}
	defer a.timerExpiry()
	for k, v := range keyValues(data) {
		switch k {
		case "eventfd-count":
			a.Count, _ = strconv.ParseUint(v, 16, 64)
		case "eventfd-semaphore":
			a.Semaphore = v == "1"
		case "tfd":
			// tfd:        5 events:       19 data:                5  pos:0 ino:... sdev:...
			f := strings.Fields(v)
			if len(f) < 5 {
				return nil, fmt.Errorf("parse epoll fdinfo %q", v)
			}
			w := epollWatch{}
			w.FD, _ = strconv.Atoi(f[0])
			ev, _ := strconv.ParseUint(f[2], 16, 32)
			w.Events = uint32(ev)
			w.Data, _ = strconv.ParseUint(f[4], 16, 64)
			a.Watches = append(a.Watches, w)
		case "clockid":
			a.Clock, _ = strconv.Atoi(v)
		case "ticks":
			a.Ticks, _ = strconv.ParseUint(v, 10, 64)
		case "it_value":
			a.Value = parsePair(v)
		case "it_interval":
			a.Interval = parsePair(v)
		case "settime flags":
			fl, _ := strconv.ParseInt(strings.TrimSpace(v), 8, 32)
			a.TimerFlags = int(fl)
		case "Pid":
			a.PidfdPID, _ = strconv.Atoi(v)
		case "sigmask":
			a.SigMask, _ = strconv.ParseUint(v, 16, 64)
		case "fanotify flags", "fanotify ino", "fanotify mnt_id", "fanotify sdev":
			if a.Fanotify == nil {
				a.Fanotify = &fanotifyGroup{}
			}
			if err := parseFanotify(pid, a.Fanotify, k, v); err != nil {
				return nil, err
			}
		case "inotify wd":
			w, err := inotifyFromFdinfo(v)
			if err != nil {
				return nil, err
			}
			a.Inotify = append(a.Inotify, w)
		}
	}
	return a, nil
}

// parsePair reads "(SEC, NSEC)".
func parsePair(v string) [2]int64 {
	v = strings.Trim(v, "() ")
	a, b, _ := strings.Cut(v, ",")
	x, _ := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	y, _ := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	return [2]int64{x, y}
}

// forwardTimerfd brings the fdinfo of timerfd fd of pid up to date. An
// interval timer that expired and was not read since shows in fdinfo
// the ticks and time left of its first expiry only (ticks 1, it_value 0):
// the kernel counts the periods since (hrtimer_forward) when it is read,
// or when timerfd_gettime is called. timerfd_gettime, through a copy of
// the descriptor (the same file), adds them to its ticks and moves the
// timer to its next expiry, which changes nothing the process can see: a
// read then returns the same count, and the timer expires when it would
// have.
func forwardTimerfd(pid, fd int) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("timerfd: pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	mine, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return fmt.Errorf("timerfd: pidfd_getfd: %w", err)
	}
	defer unix.Close(mine)
	var cur unix.ItimerSpec
	if err := unix.TimerfdGettime(mine, &cur); err != nil {
		return fmt.Errorf("timerfd: timerfd_gettime: %w", err)
	}
	return nil
}

// openAnon makes, in the restorer, a new anonymous file like a: an eventfd
// with its counter, a timerfd armed with what was left, a signalfd with its
// mask, or an empty epoll instance (its interest list is filled in the
// process, see builder.fillEpoll).
func openAnon(a *anonFile, flags int) (int, error) {
	nonblock := flags & unix.O_NONBLOCK
	switch a.Type {
	case "eventfd":
		fl := unix.EFD_CLOEXEC | nonblock
		if a.Semaphore {
			fl |= unix.EFD_SEMAPHORE
		}
		return unix.Eventfd(0, fl)
	case "eventpoll":
		return unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	case "timerfd":
		fd, err := unix.TimerfdCreate(a.Clock, unix.TFD_CLOEXEC|nonblock)
		if err != nil {
			return -1, err
		}
		spec := unix.ItimerSpec{
			Interval: unix.Timespec{Sec: a.Interval[0], Nsec: a.Interval[1]},
			Value:    unix.Timespec{Sec: a.Value[0], Nsec: a.Value[1]},
		}
		if a.absolute() {
			spec.Value = unix.Timespec{Sec: a.Expires[0], Nsec: a.Expires[1]}
		}
		if err := unix.TimerfdSettime(fd, a.TimerFlags&timerfdSettable, &spec, nil); err != nil {
			unix.Close(fd)
			return -1, err
		}
		if err := setTimerfdTicks(fd, a.Ticks); err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	case "inotify":
		return openInotify(a, unix.IN_CLOEXEC|nonblock)
	case "fanotify":
		return openFanotify(a.Fanotify, nonblock)
	case "signalfd":
		var set unix.Sigset_t
		set.Val[0] = a.SigMask
		return unix.Signalfd(-1, &set, unix.SFD_CLOEXEC|nonblock)
	}
	return -1, fmt.Errorf("%s: %w", a.Type, ErrUnsupported)
}

// fillEventfd puts an eventfd's counter back.
func fillEventfd(fd int, count uint64) error {
	if count == 0 {
		return nil
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], count)
	_, err := unix.Write(fd, b[:])
	return err
}

// inotifyFromFdinfo reads one watch of an inotify fdinfo line
// ("1 ino:... sdev:... mask:... ignored_mask:0 fhandle-bytes:8
// fhandle-type:1 f_handle:..."): the watched file is found again from its
// file handle (open_by_handle_at, which root may do).
func inotifyFromFdinfo(v string) (inotifyWatch, error) {
	f := strings.Fields(v)
	if len(f) < 8 {
		return inotifyWatch{}, fmt.Errorf("parse inotify fdinfo %q", v)
	}
	kv := map[string]string{}
	for _, x := range f[1:] {
		if k, val, ok := strings.Cut(x, ":"); ok {
			kv[k] = val
		}
	}
	wd, _ := strconv.ParseInt(f[0], 16, 32)
	mask, _ := strconv.ParseUint(kv["mask"], 16, 32)
	sdev, _ := strconv.ParseUint(kv["sdev"], 16, 32)
	htype, _ := strconv.ParseInt(kv["fhandle-type"], 16, 32)
	hb, err := hex.DecodeString(kv["f_handle"])
	if err != nil {
		return inotifyWatch{}, err
	}
	ino, _ := strconv.ParseUint(kv["ino"], 16, 64)
	path, err := pathOfHandle(uint32(sdev), int32(htype), hb)
	if err != nil || !isInode(path, uint32(sdev), ino) {
		// A removed file, or one whose name the handle does not
		// give (inotifywatch.go).
		return removedWatch(int(wd), uint32(mask), uint32(sdev), ino, int32(htype), hb), nil
	}
	return inotifyWatch{WD: int(wd), Mask: uint32(mask), Path: path}, nil
}

// pathOfHandle finds the path of the file with handle h on the filesystem
// of kernel device sdev (major<<20 | minor).
func pathOfHandle(sdev uint32, typ int32, h []byte) (string, error) {
	fd, err := openHandle(sdev, typ, h)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	return os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
}

// openInotify makes an inotify instance with the same watches under the
// same watch descriptors: they are numbered in order, so gaps are filled
// with watches removed at once.
func openInotify(a *anonFile, flags int) (int, error) {
	fd, err := unix.InotifyInit1(flags)
	if err != nil {
		return -1, err
	}
	ws := append([]inotifyWatch(nil), a.Inotify...)
	sort.Slice(ws, func(i, j int) bool { return ws[i].WD < ws[j].WD })
	for _, w := range ws {
		for {
			got, err := unix.InotifyAddWatch(fd, w.Path, w.Mask)
			if err != nil {
				unix.Close(fd)
				return -1, fmt.Errorf("inotify watch %s: %w", w.Path, err)
			}
			if got == w.WD {
				break
			}
			if got > w.WD {
				unix.Close(fd)
				return -1, fmt.Errorf("inotify watch %s: got descriptor %d, want %d", w.Path, got, w.WD)
			}
			unix.InotifyRmWatch(fd, uint32(got))
		}
	}
	if a.Queued == 0 {
		// The program had read the IN_IGNORED events of the removed
		// watches: those just queued by filling the gaps go.
		if err := drainInotify(fd); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// tfdIocSetTicks is TFD_IOC_SET_TICKS, _IOW('T', 0, __u64): the count of
// expirations not read yet, which the kernel has for checkpoint/restart
// (CONFIG_CHECKPOINT_RESTORE). Settime resets the count, so it comes
// after.
const tfdIocSetTicks = 0x40085400

func setTimerfdTicks(fd int, ticks uint64) error {
	if ticks == 0 {
		return nil
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), tfdIocSetTicks, uintptr(unsafe.Pointer(&ticks))); e != 0 {
		return fmt.Errorf("timerfd: %d unread expirations cannot be restored (TFD_IOC_SET_TICKS): %w", ticks, e)
	}
	return nil
}

// drainInotify reads and drops the events queued in inotify instance fd.
func drainInotify(fd int) error {
	n, err := unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD
	if err != nil || n == 0 {
		return err
	}
	buf := make([]byte, n)
	_, err = unix.Read(fd, buf)
	return err
}
