package ckpt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Tracking restored processes (RestartOptions.Track). A restored process
// holds, when it is let go, exactly the memory of its image: a tracker
// armed then (as a checkpoint arms one, dirty_linux_amd64.go), in the
// process, on every private region of the image, with its present pages
// protected, knows the pages written since the image. The image cannot
// record it (it is sealed, and others may be made against it), so a note
// beside it does (".IMAGE.track", restoreTrack): the image's state digest,
// the tracker (the restored process's start time, descriptor and inode) and
// the regions registered, with an HMAC by the key if there is one. A
// checkpoint against the image takes the note's tracker for the image's
// own if the note is about this image and this very process, and is
// authentic (with a key: its HMAC; without: a file of the caller's that no
// one else may write); then the checkpoint is incremental against the
// restored image as against one it made itself, and trackerIntact checks
// the rest. A note of another process, an older restore, is ignored.

// restoreTrack is the note of a restore's tracker.
type restoreTrack struct {
	Digest  string      `json:"digest"` // the image's state digest
	Track   trackRecord `json:"track"`
	Tracked [][2]uint64 `json:"tracked"` // regions registered
	MAC     string      `json:"mac,omitempty"`
}

// maxTrackNote bounds a note's size.
const maxTrackNote = 4 << 20

// trackNotePath is the note beside the image at path.
func trackNotePath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".track")
}

func (n *restoreTrack) mac(key []byte) string {
	c := *n
	c.MAC = ""
	js, _ := json.Marshal(c)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("lazarus track\x00"))
	m.Write(js)
	return hex.EncodeToString(m.Sum(nil))
}

// armTracker gives the restored process a tracker and writes its note
// beside the image; the process is still the builder's, its memory
// complete.
func (b *builder) armTracker(key []byte) error {
	img := b.p.img
	low, err := b.call("userfaultfd", unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|uffdUserModeOnly)
	if err != nil {
		return err
	}
	fd := int(low)
	if hi, err := b.call("fcntl", unix.SYS_FCNTL, low, unix.F_DUPFD_CLOEXEC, trackFDBase); err == nil {
		b.call("close", unix.SYS_CLOSE, low)
		fd = int(hi)
	}
	drop := func() { b.call("close", unix.SYS_CLOSE, uint64(fd)) }
	uffd, err := copyFDOf(b.pid, fd)
	if err != nil {
		drop()
		return err
	}
	defer unix.Close(uffd)
	api := struct{ api, features, ioctls uint64 }{uffdAPI, uffdTrackFeatures, 0}
	if err := uffdIoctl(uffd, uffdioAPI, unsafe.Pointer(&api)); err != nil {
		drop()
		return fmt.Errorf("UFFDIO_API: %w", err)
	}
	st, err := readStat(b.pid)
	if err != nil {
		drop()
		return err
	}
	info, err := readFdInfo(b.pid, fd)
	if err != nil {
		drop()
		return err
	}
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", b.pid))
	if err != nil {
		drop()
		return err
	}
	defer pm.Close()
	note := restoreTrack{Digest: img.stateDigest(), Track: trackRecord{FD: fd, Ino: info.Ino, Boot: bootID(), Start: st.StartTime}}
	for _, r := range img.meta.Regions {
		if r.Kind != regionAnon && r.Kind != regionFile {
			continue
		}
		if len(r.Inherit) > 0 {
			// Its image lacks the pages it shared with its parent
			// (cowshare.go): the next generation takes it whole, as
			// after a checkpoint (layout).
			continue
		}
		if err := uffdRange(uffd, uffdioRegister, r.Start, r.End, uffdRegWP); err != nil {
			continue // saved whole next time
		}
		if _, err := scanProtect(pm, r.Start, r.End, r.Kind == regionFile); err != nil {
			uffdRange(uffd, uffdioUnregister, r.Start, r.End, 0)
			continue
		}
		note.Tracked = append(note.Tracked, [2]uint64{r.Start, r.End})
	}
	if key != nil {
		note.MAC = note.mac(key)
	}
	js, err := json.Marshal(note)
	if err != nil {
		drop()
		return err
	}
	if err := writeNote(trackNotePath(img.Path), js); err != nil {
		drop()
		return err
	}
	return nil
}

// writeNote writes a note durably (temporary name, fsync, rename).
func writeNote(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	f.Close()
	if err == nil {
		err = publish(tmp, path, true)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// copyFDOf returns a copy of descriptor fd of process pid.
func copyFDOf(pid, fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pidfd)
	c, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_getfd", err)
	}
	return c, nil
}

// restoredTracker makes the parent image p take the tracker of the
// restore of it into process start, if its note says so and is
// authentic; it says why not ("" when it did, or there is no note).
func restoredTracker(p *Image, key []byte, start uint64) string {
	f, err := os.Open(trackNotePath(p.Path))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	if key == nil {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !fi.Mode().IsRegular() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
			return "its restore's note is not a file of ours that only we may write"
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTrackNote+1))
	if err != nil {
		return err.Error()
	}
	var n restoreTrack
	if len(data) > maxTrackNote || json.Unmarshal(data, &n) != nil {
		return "its restore's note is damaged"
	}
	switch {
	case n.Track.Start != start:
		return "" // of another process: an older restore
	case key != nil && !hmac.Equal([]byte(n.MAC), []byte(n.mac(key))):
		return "its restore's note is not authentic"
	case n.Digest != p.stateDigest():
		return "its restore's note is of another image"
	case n.Track.FD < 0 || n.Track.FD > maxFiles || len(n.Tracked) > maxLoads:
		return "its restore's note is damaged"
	}
	tracked := map[[2]uint64]bool{}
	for _, r := range n.Tracked {
		tracked[r] = true
	}
	rec := n.Track
	p.meta.Track = &rec
	for i := range p.meta.Regions {
		r := &p.meta.Regions[i]
		r.Tracked = tracked[[2]uint64{r.Start, r.End}]
	}
	return ""
}

// parentOf returns the image of the parent tree that d's process was
// checkpointed as: the same pid, or, restored into a new PID namespace
// (its pid outside is another), the same pid inside it.
func (t *dumpTree) parentOf(d *dumper) *Image {
	if p := t.parents[d.pid]; p != nil {
		return p
	}
	st, err := readStatus(d.pid)
	if err != nil || len(st.NSpid) < 2 {
		return nil
	}
	ns := st.NSpid[len(st.NSpid)-1]
	var below []int
	if level, err := t.rootNSLevel(); err == nil && len(st.NSpid) > level+1 {
		below = st.NSpid[level:] // pidns.go
	}
	for _, p := range t.parents {
		if p.meta.NSPID == ns && slices.Equal(p.meta.NSPids, below) {
			return p
		}
	}
	return nil
}

// sameProcess reports whether images a and b can be of one process: the
// same pid, or the same pid inside a PID namespace (a tree restored into
// a new one has other pids outside).
func sameProcess(a, b *imageMeta) bool {
	return a.PID == b.PID || (a.NSPID > 0 && a.NSPID == b.NSPID && slices.Equal(a.NSPids, b.NSPids))
}
