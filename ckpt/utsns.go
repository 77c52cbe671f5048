package ckpt

// UTS namespaces. A process that unshared CLONE_NEWUTS has a host and
// domain name of its own; restored in the restart's namespace it would see
// the machine's. The checkpoint reads them inside its namespace (setns of
// a thread of ours that then ends, runtime.LockOSThread); the restart
// gives the first process of each namespace a new one with the same names
// (unshare, sethostname, setdomainname), and each process that shared its
// parent's joins its parent's new one (setns): every process was created
// before any is rebuilt, so all start in the restart's namespace.

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// utsState is procAttrs.UTS: nil when the process shared the
// checkpointer's UTS namespace.
type utsState struct {
	NS         uint64 `json:"ns"` // inode of its namespace, to tell which processes shared it
	Hostname   string `json:"hostname"`
	Domainname string `json:"domainname"`
}

// readUTS returns the UTS namespace of pid if it is not ours.
func readUTS(pid int) (*utsState, error) {
	var st, self unix.Stat_t
	path := fmt.Sprintf("/proc/%d/ns/uts", pid)
	if err := unix.Stat(path, &st); err != nil {
		return nil, err
	}
	if err := unix.Stat("/proc/thread-self/ns/uts", &self); err != nil {
		return nil, err
	}
	if st.Ino == self.Ino && st.Dev == self.Dev {
		return nil, nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	type result struct {
		u   unix.Utsname
		err error
	}
	done := make(chan result, 1)
	go func() {
		// This thread enters the namespace and ends with the goroutine
		// (never unlocked): no other goroutine runs in it.
		runtime.LockOSThread()
		var r result
		if r.err = unix.Setns(fd, unix.CLONE_NEWUTS); r.err == nil {
			r.err = unix.Uname(&r.u)
		}
		done <- r
	}()
	r := <-done
	if r.err != nil {
		return nil, fmt.Errorf("read its UTS namespace: %w", r.err)
	}
	return &utsState{NS: st.Ino, Hostname: unix.ByteSliceToString(r.u.Nodename[:]), Domainname: unix.ByteSliceToString(r.u.Domainname[:])}, nil
}

// checkUTS refuses names the kernel would not take.
func checkUTS(u *utsState) error {
	if u != nil && (len(u.Hostname) > 64 || len(u.Domainname) > 64) {
		return fmt.Errorf("host name of %d bytes, domain name of %d", len(u.Hostname), len(u.Domainname))
	}
	return nil
}

// restoreUTS puts the process in its UTS namespace (see above).
func (b *builder) restoreUTS() error {
	a := b.p.meta.Attrs
	if a == nil || a.UTS == nil || b.p.meta.UserNS.owns("uts") {
		return nil // the restart's, or made inside its user namespace (userns.go)
	}
	if a.utsShared(b.p) {
		par := b.p.parent
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/uts", par.pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("UTS namespace of its parent: %w", err)
		}
		defer unix.Close(fd)
		if err := b.takeFD(fd, b.spareFD+1, true); err != nil {
			return fmt.Errorf("UTS namespace: %w", err)
		}
		defer b.call("close", unix.SYS_CLOSE, uint64(b.spareFD+1))
		if _, err := b.call("setns", unix.SYS_SETNS, uint64(b.spareFD+1), unix.CLONE_NEWUTS); err != nil {
			return b.attrRefused(fmt.Errorf("join the UTS namespace of its parent: %w", err))
		}
		return nil
	}
	return b.makeUTS()
}

// utsShared tells whether p (whose Attrs a are) was in its parent's UTS
// namespace, which is not the checkpointer's.
func (a *procAttrs) utsShared(p *rproc) bool {
	if a == nil || a.UTS == nil {
		return false
	}
	par := p.parent
	return par != nil && par.meta.Attrs != nil && par.meta.Attrs.UTS != nil && par.meta.Attrs.UTS.NS == a.UTS.NS
}

// makeUTS gives the process a UTS namespace of its own with its names.
func (b *builder) makeUTS() error {
	u := b.p.meta.Attrs.UTS
	if _, err := b.call("unshare", unix.SYS_UNSHARE, unix.CLONE_NEWUTS); err != nil {
		return b.attrRefused(fmt.Errorf("a UTS namespace of its own (host name %q) cannot be restored: %w", u.Hostname, err))
	}
	for _, n := range []struct {
		nr   uintptr
		name string
	}{{unix.SYS_SETHOSTNAME, u.Hostname}, {unix.SYS_SETDOMAINNAME, u.Domainname}} {
		addr, err := b.put(scratchData, []byte(n.name))
		if err != nil {
			return err
		}
		if _, err := b.call("sethostname", n.nr, addr, uint64(len(n.name))); err != nil {
			return fmt.Errorf("set host or domain name %q: %w", n.name, err)
		}
	}
	return nil
}
