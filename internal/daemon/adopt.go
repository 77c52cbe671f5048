package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/ckpt"
	"lazarus/internal/proto"
	"lazarus/internal/supervisor"
	"lazarus/jobs"
	"lazarus/queue"
)

// adoptImage handles qrestart -f: a checkpoint taken by hand (chkpnt, with a
// terminal or not) becomes a new batch job of the caller's, whose first
// run restarts from it. The images are read as the caller (they are the
// caller's files; root's rights must not reach others'), copied into the
// job's first generation directory, which only root can write, and checked
// there, where the caller can no longer change them: every process must
// have been the caller's (the restart gives each its checkpointed
// credentials back, so an image of someone else's, or a forged one, must
// never be restored for the caller).
func (d *Daemon) adoptImage(_ context.Context, who caller, body json.RawMessage) (any, error) {
	var req proto.AdoptRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if d.uid != 0 {
		return nil, conflict("%v", errNotRoot)
	}
	if err := validKey(req.Key); err != nil {
		return nil, err
	}
	if req.Key != "" {
		// A retry of an adoption whose reply was lost.
		if reply, ok, err := d.submitted(who, req.Key); ok || err != nil {
			return reply, err
		}
	}
	if err := d.userJobsLimit(who, 1); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(req.Image) || !filepath.IsAbs(req.Workdir) {
		return nil, badRequest("image %q and working directory %q must be absolute paths", req.Image, req.Workdir)
	}
	if req.Stdout != "" && !filepath.IsAbs(req.Stdout) {
		return nil, badRequest("output path %q is not absolute", req.Stdout)
	}
	cfg := d.config()
	qname := req.Queue
	if qname == "" {
		qname = cfg.DefaultQueue
	}
	if err := checkQueue(d.store.View(), qname); err != nil {
		return nil, err
	}
	join := jobs.JoinOutErr
	if req.Join != "" {
		var err error
		if join, err = jobs.ParseJoin(req.Join); err != nil {
			return nil, err
		}
	}
	policy := jobs.DefaultPolicy
	if q := d.store.View().Queue(qname); q != nil && q.CkptDefault.Kind != "" {
		policy = q.CkptDefault
	}
	if req.Checkpoint != "" {
		var err error
		if policy, err = jobs.ParsePolicy(req.Checkpoint); err != nil {
			return nil, err
		}
	}

	res := jobs.Resources{NCPUs: 1, Walltime: cfg.DefaultWalltime}
	if err := d.netResource(&res, qname); err != nil {
		return nil, err
	}

	id := d.store.NextID()
	dir := d.genDir(id, 1)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(d.ckptDir(id))
		}
	}()
	root, size, n, err := d.copyTree(who, req.Image, dir)
	if err != nil {
		return nil, err
	}
	img, err := ckpt.ReadImage(filepath.Join(dir, supervisor.RootImage))
	if err != nil {
		return nil, badRequest("%s: %v", req.Image, err)
	}
	// Its parent images were not copied (nor could a job's generation
	// refer to files outside the spool).
	for _, name := range append([]string{supervisor.RootImage}, img.Children()...) {
		if m, err := ckpt.ReadImage(filepath.Join(dir, name)); err == nil && m.Incremental() {
			return nil, badRequest("%s: an incremental checkpoint (of %s): make it self-contained first (chkpnt --merge %s)", req.Image, m.Parent(), req.Image)
		}
	}
	name := req.Name
	if name == "" {
		name = root.Comm
	}
	if err := jobs.ValidateName(name); err != nil {
		name = "restarted"
	}
	now := time.Now().Round(0)
	j := &jobs.Job{
		ID: id, Name: name, Queue: qname, State: jobs.Queued,
		Owner:     jobs.Owner{UID: who.uid, GID: who.gid, Groups: who.groups, Name: who.name},
		Submitted: now, Changed: now, Workdir: filepath.Clean(req.Workdir), Join: join,
		Resources:  res,
		Checkpoint: policy, Script: d.spoolPath(id),
		Checkpoints: []jobs.Generation{{
			N: 1, Time: img.Created, Dir: dir, Root: supervisor.RootImage, Size: size, Processes: n,
		}},
		LastGeneration: 1,
	}
	j.Stdout = outputPath(req.Stdout, j.Workdir, name, "o", id)
	j.Stderr = outputPath("", j.Workdir, name, "e", id)
	j.Event(now, "adopted by %s from the checkpoint %s (process %d, %s, taken %s)",
		who.name, req.Image, root.PID, root.Comm, img.Created.Local().Format(time.DateTime))
	if req.Hold {
		j.State, j.Reason = jobs.Held, "held by "+who.name+" at qrestart -f"
	}
	// The job has no script to start from: it can only restart.
	script := fmt.Appendf(nil, "#!/bin/sh\necho 'job %s was adopted from the checkpoint %s; it cannot start from the beginning' >&2\nexit 1\n", id, req.Image)
	check := func(v *queue.View) error { return checkQueue(v, qname) }
	if req.Key == "" {
		err = d.store.Submit(j, script, nil, check)
	} else {
		var dup bool
		var other jobs.ID
		if other, dup, err = d.store.SubmitOnce(req.Key, j, script, nil, check); err == nil && dup {
			reply, _, err := d.submittedID(who, req.Key, other)
			return reply, err
		}
	}
	if err != nil {
		return nil, err
	}
	ok = true
	d.log.Info("checkpoint adopted", "job_id", id, "image", req.Image, "user", who.name, "processes", n)
	d.wake()
	return proto.SubmitReply{ID: uint64(id), Queue: qname, Server: d.config().Server()}, nil
}

// adoptee is what adoption checks of one image of the tree, as the engine
// reads it (ckpt is the one reader of the format).
type adoptee struct {
	PID       int
	Comm      string
	Exe       string
	Cwd       string
	Creds     ckpt.Creds
	Files     []ckpt.OpenFile
	Mapped    []ckpt.MappedFile
	Children  []string
	Copies    []ckpt.FileCopy // of files' content, beside the image
	Authentic bool            // its HMAC verifies with this host's key
}

func adopteeOf(img *ckpt.Image, authentic bool) *adoptee {
	return &adoptee{
		PID: img.PID, Comm: img.Comm, Exe: img.Exe, Cwd: img.Cwd(), Creds: img.Creds(),
		Files: img.Files(), Mapped: img.Mapped(), Children: img.Children(), Copies: img.Copies(), Authentic: authentic,
	}
}

// copyTree copies the image at path, and the images of its tree beside it,
// into dir (the root's as RootImage), reading them as the caller, and
// checks that every process was the caller's. It returns the root's
// metadata, the bytes the copies take and the number of processes.
func (d *Daemon) copyTree(who caller, path, dir string) (root *adoptee, size int64, n int, err error) {
	key, err := supervisor.ReadKey(d.keyFile)
	if err != nil {
		return nil, 0, 0, err
	}
	srcDir := filepath.Dir(path)
	todo := []struct{ src, dst string }{{path, supervisor.RootImage}}
	copied := map[ckpt.FileCopy]bool{}
	for len(todo) > 0 {
		x := todo[0]
		todo = todo[1:]
		note, sz, err := d.copyImage(who, x.src, filepath.Join(dir, x.dst), key)
		if err != nil {
			return nil, 0, 0, err
		}
		if root == nil {
			root = note
		}
		if err := mayAdopt(who, note); err != nil {
			return nil, 0, 0, badRequest("%s: %v", x.src, err)
		}
		if err := mayOpen(who, note); err != nil {
			return nil, 0, 0, badRequest("%s: %v", x.src, err)
		}
		size += sz
		n++
		for _, c := range note.Copies {
			if copied[c] {
				continue // a file the processes shared
			}
			copied[c] = true
			sz, err := d.copyFileCopy(who, srcDir, dir, c)
			if err != nil {
				return nil, 0, 0, err
			}
			size += sz
		}
		for _, c := range note.Children {
			if strings.Contains(c, "/") || c == supervisor.RootImage || c == supervisor.GenInfoFile {
				return nil, 0, 0, badRequest("%s: %v (child image %q)", x.src, ckpt.ErrCorrupt, c)
			}
			todo = append(todo, struct{ src, dst string }{filepath.Join(srcDir, c), c})
		}
		if n > maxAdoptTree {
			return nil, 0, 0, badRequest("%s: a tree of more than %d processes", path, maxAdoptTree)
		}
	}
	if err := syncPath(dir); err != nil {
		return nil, 0, 0, err
	}
	return root, size, n, syncPath(filepath.Dir(dir))
}

// copyFileCopy copies a copy of a file's content beside an image (an
// unlinked file's, chkpnt -C's) into dir, under the name the restart looks
// for first, read as the caller: the adopted job must restart from the
// image and its copies, not from an image whose copies stayed behind (the
// restart then refused it, or with the file's copy gone, lost it). The
// restart checks the copy's size and content sum against the image.
func (d *Daemon) copyFileCopy(who caller, srcDir, dir string, c ckpt.FileCopy) (int64, error) {
	names := []string{c.Name}
	if c.Gen != "" {
		names = []string{c.Gen, c.Name}
	}
	var in *os.File
	var err error
	for _, name := range names {
		in, err = supervisor.OpenAsUser(filepath.Join(srcDir, name), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0, who.uid, who.gid, who.groups)
		if !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			err = errors.New("is a symbolic link")
		} else {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
		}
		return 0, badRequest("%s: the image's copy of a file: %v", filepath.Join(srcDir, c.Name), err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, badRequest("%s: the image's copy of a file is %s, not a regular file", in.Name(), fileType(fi.Mode()))
	}
	dstName := c.Gen
	if dstName == "" {
		dstName = c.Name
	}
	switch dstName {
	case supervisor.RootImage, supervisor.GenInfoFile, supervisor.CkptLockFile, supervisor.CkptResultFile, supervisor.CkptLogFile, supervisor.RequeueFile:
		return 0, badRequest("%s: %v (copy of a file named %q)", in.Name(), ckpt.ErrCorrupt, dstName)
	}
	out, err := os.OpenFile(filepath.Join(dir, dstName), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	if err := copySparse(out, in); err != nil {
		return 0, fmt.Errorf("copy %s: %w", in.Name(), err)
	}
	if err := out.Sync(); err != nil {
		return 0, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(out.Fd()), &st); err != nil {
		return 0, err
	}
	return st.Blocks * 512, nil
}

// maxAdoptTree bounds the members of an adopted tree (the engine has its
// own bound too).
const maxAdoptTree = 4096

// copyImage copies one image file, opened as the caller, keeping its holes
// (all-zero pages are holes in images), and reads and verifies the copy
// (every checksum; with the host key, its HMAC).
func (d *Daemon) copyImage(who caller, src, dst string, key []byte) (*adoptee, int64, error) {
	// O_NONBLOCK: opening a FIFO (or a device) must never wait for a
	// writer; O_NOFOLLOW: a symbolic link is not the user's image. Nothing
	// is read before the file is known to be a regular one.
	in, err := supervisor.OpenAsUser(src, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0, who.uid, who.gid, who.groups)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, 0, badRequest("%s: is a symbolic link, not a checkpoint image", src)
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, 0, badRequest("%s: %v", src, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, badRequest("%s: not a checkpoint image (%s, not a regular file)", src, fileType(fi.Mode()))
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, 0, err
	}
	defer out.Close()
	if err := copySparse(out, in); err != nil {
		return nil, 0, fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		return nil, 0, err
	}
	// Read back from our copy: what is checked is what will be restored.
	img, err := ckpt.ReadImage(dst)
	if err != nil {
		return nil, 0, badRequest("%s: %v", src, imageErr(err))
	}
	authentic, err := ckpt.VerifyImage(dst, key)
	if err != nil {
		return nil, 0, badRequest("%s: %v", src, imageErr(err))
	}
	var st unix.Stat_t
	if err := unix.Stat(dst, &st); err != nil {
		return nil, 0, err
	}
	return adopteeOf(img, authentic), st.Blocks * 512, nil
}

// imageErr is an image error without the path of our copy, which means
// nothing to the caller.
func imageErr(err error) error {
	var ie *ckpt.ImageError
	if errors.As(err, &ie) {
		return ie.Err
	}
	return err
}

// mayAdopt checks that the caller owned the checkpointed process. An
// image that this host's batch system wrote (its HMAC verifies) records
// what the process really was: its real uid must be the caller's (a
// setuid program's other ids may differ). Any other image is the caller's
// own file, which they could have written: every id of it must be the
// caller's, every group one of the caller's. Root may adopt anything. (The
// engine applies the same rules again at the restore, with the job's
// owner.)
func mayAdopt(who caller, n *adoptee) error {
	if who.uid == 0 {
		return nil
	}
	if n.Authentic {
		if n.Creds.UID[0] != int(who.uid) {
			return fmt.Errorf("process %d (%s) ran as uid %d, not as you (uid %d)", n.PID, n.Comm, n.Creds.UID[0], who.uid)
		}
		return nil
	}
	for _, u := range n.Creds.UID {
		if u != int(who.uid) {
			return fmt.Errorf("process %d (%s) ran as uid %v, not as you (uid %d)", n.PID, n.Comm, n.Creds.UID, who.uid)
		}
	}
	groups := append([]uint32{who.gid}, who.groups...)
	for _, g := range append(n.Creds.GID[:], n.Creds.Groups...) {
		if g < 0 || !slices.Contains(groups, uint32(g)) {
			return fmt.Errorf("process %d (%s) had group %d, which is not one of yours", n.PID, n.Comm, g)
		}
	}
	return nil
}

// mayOpen checks that the caller may open, as they are now, every file the
// checkpointed process had open or mapped, with the access it had: the
// engine reopens them with the restorer's rights (root's), and an image
// is the caller's to write. (A file that is missing is restored closed.)
func mayOpen(who caller, n *adoptee) error {
	if who.uid == 0 {
		return nil
	}
	try := func(what, path string, flags int) error {
		f, err := supervisor.OpenAsUser(path, flags|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0, who.uid, who.gid, who.groups)
		if err == nil {
			f.Close()
			return nil
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("process %d (%s): %s %s: %v (as you)", n.PID, n.Comm, what, path, err)
	}
	if err := try("executable", n.Exe, os.O_RDONLY); err != nil {
		return err
	}
	if err := try("working directory", n.Cwd, unix.O_PATH|unix.O_DIRECTORY); err != nil {
		return err
	}
	for _, f := range n.Files {
		switch {
		case f.Kind == "file" || f.Kind == "device" || (f.Kind == "tty" && !f.CTTY):
			if err := try(fmt.Sprintf("fd %d", f.FD), f.Path, f.Flags&unix.O_ACCMODE); err != nil {
				return err
			}
		case f.Kind == "dir":
			if err := try(fmt.Sprintf("fd %d", f.FD), f.Path, os.O_RDONLY|unix.O_DIRECTORY); err != nil {
				return err
			}
		}
	}
	for _, m := range n.Mapped {
		flags := os.O_RDONLY
		if m.Writable {
			flags = os.O_RDWR
		}
		if err := try("mapped file", m.Path, flags); err != nil {
			return err
		}
	}
	return nil
}

// copySparse copies in to out, data extents only (SEEK_DATA, SEEK_HOLE).
func copySparse(out, in *os.File) error {
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	end := fi.Size()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < end; {
		data, err := unix.Seek(int(in.Fd()), off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // only a hole up to the end
		}
		if err != nil {
			return err
		}
		hole, err := unix.Seek(int(in.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		if _, err := io.CopyBuffer(io.NewOffsetWriter(out, data), io.NewSectionReader(in, data, hole-data), buf); err != nil {
			return err
		}
		off = hole
	}
	return out.Truncate(end)
}

// fileType names the type of a file that is not a regular one.
func fileType(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	}
	return "a special file"
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
