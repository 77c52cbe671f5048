package ckpt

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Copies of files beside the image: the content of an unlinked file
// (COMM.PID.-.FD) and, with -C, of an open regular file
// (COMM.PID.FILENAME.FD), the CONVEX names. A checkpoint that overwrites
// an image (-F) must never leave the old image with the new image's
// copies, nor the new one with the old's: the image and its copies are one
// restart point. So:
//
//   - each copy's data is written under a name of this checkpoint only,
//     hidden: .COMM.PID.FD.ID, ID the checkpoint's id (the same in every
//     image of the tree), created O_EXCL|O_NOFOLLOW, fsynced; the image
//     records that name, the copy's size and its content sum (contentSum),
//     all covered by the image's checksums and HMAC;
//   - the directory is fsynced, then the images are published (renamed
//     over the old ones): the root's rename is the commit point. Until
//     then the old image and its own hidden copies are untouched, and a
//     crash or a kill at any moment leaves the old restart point whole;
//   - after it, each CONVEX name becomes a hard link to the new data
//     (link to a temporary name, renamed over the old name: the name
//     always holds one whole copy), and the copies of the image that was
//     replaced are removed.
//
// The restart reads the copy under the image's hidden name, else (the
// image and its copies moved by hand under their CONVEX names) under its
// CONVEX name; either must be a regular file, opened without following a
// symlink, of the recorded size and sum, or the restart refuses it
// (ErrWrongCopy), never restoring a copy of another checkpoint.

// sumBlock is the block of contentSum.
const sumBlock = 1 << 20

// contentSum hashes the content of a file as its bytes read with holes as
// zeros, independently of where its holes are: SHA-256 of the SHA-256 of
// each MiB block followed by the length. A block of zeros hashes to a
// constant, so the holes of a sparse file cost nothing.
type contentSum struct {
	all, blk hash.Hash
	inBlk    int
	n        int64
}

var zeroBlockSum = sync.OnceValue(func() []byte {
	s := sha256.Sum256(make([]byte, sumBlock))
	return s[:]
})

var zeroBuf [64 << 10]byte

func newContentSum() *contentSum { return &contentSum{all: sha256.New(), blk: sha256.New()} }

func (c *contentSum) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		k := min(len(b), sumBlock-c.inBlk)
		c.blk.Write(b[:k])
		c.inBlk += k
		c.n += int64(k)
		b = b[k:]
		if c.inBlk == sumBlock {
			c.all.Write(c.blk.Sum(nil))
			c.blk.Reset()
			c.inBlk = 0
		}
	}
	return n, nil
}

// zeros adds n zero bytes.
func (c *contentSum) zeros(n int64) {
	for n > 0 {
		if c.inBlk == 0 && n >= sumBlock {
			c.all.Write(zeroBlockSum())
			c.n += sumBlock
			n -= sumBlock
			continue
		}
		k := min(n, int64(sumBlock-c.inBlk), int64(len(zeroBuf)))
		c.Write(zeroBuf[:k])
		n -= k
	}
}

func (c *contentSum) hex() string {
	if c.inBlk > 0 {
		c.all.Write(c.blk.Sum(nil))
		c.blk.Reset()
		c.inBlk = 0
	}
	var l [8]byte
	binary.LittleEndian.PutUint64(l[:], uint64(c.n))
	c.all.Write(l[:])
	return hex.EncodeToString(c.all.Sum(nil))
}

// walkSparse calls data for the bytes of the first size bytes of src that
// are data (SEEK_DATA, SEEK_HOLE), in order; the rest is holes. A source
// shorter than size ends early.
func walkSparse(src *os.File, size int64, data func(off int64, b []byte) error) error {
	buf := make([]byte, 1<<20)
	for pos := int64(0); pos < size; {
		start, err := unix.Seek(int(src.Fd()), pos, unix.SEEK_DATA)
		if err == unix.ENXIO {
			return nil
		}
		if err != nil {
			start = pos // no SEEK_DATA here: all of it is data
		}
		hole, err := unix.Seek(int(src.Fd()), start, unix.SEEK_HOLE)
		if err != nil {
			hole = size
		}
		hole = min(hole, size)
		for p := start; p < hole; {
			n, err := src.ReadAt(buf[:min(int64(len(buf)), hole-p)], p)
			if n > 0 {
				if derr := data(p, buf[:n]); derr != nil {
					return derr
				}
			}
			p += int64(n)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
		pos = hole
	}
	return nil
}

// copySparseSum copies size bytes of src to dst as copySparse does and
// returns the contentSum of what dst holds.
func copySparseSum(dst, src *os.File, size int64) (string, error) {
	c := newContentSum()
	err := walkSparse(src, size, func(off int64, b []byte) error {
		c.zeros(off - c.n)
		c.Write(b)
		_, err := dst.WriteAt(b, off)
		return err
	})
	if err != nil {
		return "", err
	}
	c.zeros(size - c.n)
	return c.hex(), dst.Truncate(size)
}

// sumSparse is the contentSum of the first size bytes of f.
func sumSparse(f *os.File, size int64) (string, error) {
	c := newContentSum()
	err := walkSparse(f, size, func(off int64, b []byte) error {
		c.zeros(off - c.n)
		c.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	c.zeros(size - c.n)
	return c.hex(), nil
}

// copyRef is what an image records of one copy (fileDesc.Copy...).
type copyRef struct {
	Name string // the CONVEX name
	Gen  string // the hidden name of this checkpoint's data
	Size int64
	Sum  string
}

func (c copyRef) set(f *fileDesc) {
	f.Copy, f.CopyGen, f.CopySize, f.CopySum = c.Name, c.Gen, c.Size, c.Sum
}

// copyPublishHook, if set, is called at each step of the publication of
// a checkpoint's images and copies (tests kill the checkpointer there).
var copyPublishHook func(step string)

func publishStep(step string) {
	if copyPublishHook != nil {
		copyPublishHook(step)
	}
}

// writeCopy writes size bytes of src beside the image as the copy of
// descriptor f named name (its CONVEX name), under this checkpoint's
// hidden name, with mode, and records it in f.
func (d *dumper) writeCopy(f *fileDesc, name string, src *os.File, size int64, mode os.FileMode) (retErr error) {
	t := d.tree
	dir := filepath.Dir(t.rootPath)
	visible := filepath.Join(dir, name)
	alias := true
	if !t.overwrite() && !isAbsent(visible) {
		if !f.Unlinked {
			return ErrExists // the caller names the copy
		}
		// An unlinked file's copy, whose name is another checkpoint's
		// (a second image of the same process in this directory): not
		// CONVEX's -C, so not refused; this image's copy keeps its
		// hidden name alone, which the restart reads first.
		alias = false
	}
	gen := fmt.Sprintf(".%s.%d.%d.%s", d.comm, d.pid, f.FD, t.id)
	path := filepath.Join(dir, gen)
	out, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	d.made = append(d.made, path) // removed if the checkpoint fails
	defer func() {
		if cerr := out.Close(); retErr == nil {
			retErr = cerr
		}
	}()
	sum, err := copySparseSum(out, src, size)
	if err != nil {
		return err
	}
	// Never writable by others: the content is checked at restart, but
	// nobody else should be able to make a restart refuse it either.
	if err := out.Chmod(mode & 0o755); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return &os.PathError{Op: "fsync", Path: path, Err: err}
	}
	c := copyRef{Name: name, Gen: gen, Size: size, Sum: sum}
	c.set(f)
	if !alias {
		t.log.Info(fmt.Sprintf("%s(%d) fd %d: %s is another checkpoint's; this one's copy of %s is %s", d.comm, d.pid, f.FD, visible, f.Path, path))
		d.copies = append(d.copies, path)
		publishStep("copy " + gen)
		return nil
	}
	d.copies = append(d.copies, visible)
	t.copies = append(t.copies, c)
	publishStep("copy " + name)
	return nil
}

// overwrite says whether the checkpoint replaces files of the same names.
func (t *dumpTree) overwrite() bool { return t.opts.Force || t.opts.Replace }

// copiesReplaced lists the hidden copies of the images this checkpoint is
// about to replace: after the commit they belong to no image any more.
// Only names of that form and of that image's id, regular files of ours,
// are kept (an image is untrusted: it never gets another file removed).
func (t *dumpTree) copiesReplaced() []string {
	if !t.overwrite() {
		return nil
	}
	var out []string
	dir := filepath.Dir(t.rootPath)
	for _, d := range t.procs {
		// Only an image of ours that is a file there, not one a link
		// leads to.
		var ist unix.Stat_t
		if unix.Lstat(d.path, &ist) != nil || ist.Mode&unix.S_IFMT != unix.S_IFREG || int(ist.Uid) != os.Geteuid() {
			continue
		}
		img, err := readImage(d.path, nil)
		if err != nil {
			continue
		}
		if d.parent == nil && img.meta.Checkpoint != t.id && img.meta.IPC != nil {
			// The old tree's SysV segments under their names of its
			// checkpoint (sysvipc.go).
			for _, sh := range img.meta.IPC.Shm {
				if sh.Data == "" || checkChildName(sh.Data) != nil {
					continue
				}
				p := memberPath(filepath.Join(dir, sh.Data), img.meta.Checkpoint)
				var st unix.Stat_t
				if unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && int(st.Uid) == os.Geteuid() {
					out = append(out, p)
				}
			}
		}
		if d.parent == nil && img.meta.Checkpoint != t.id {
			// Members of the old tree left under their names of its
			// checkpoint (cut off before it gave them their own).
			for _, c := range img.meta.Children {
				if checkChildName(c) != nil {
					continue
				}
				p := memberPath(filepath.Join(dir, c), img.meta.Checkpoint)
				var st unix.Stat_t
				if unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && int(st.Uid) == os.Geteuid() {
					out = append(out, p)
				}
			}
		}
		for _, f := range img.meta.Files {
			g := f.CopyGen
			if g == "" || !strings.HasPrefix(g, ".") || !strings.HasSuffix(g, "."+img.meta.Checkpoint) || img.meta.Checkpoint == t.id || checkChildName(g) != nil {
				continue
			}
			var st unix.Stat_t
			p := filepath.Join(dir, g)
			if unix.Lstat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() {
				continue
			}
			out = append(out, p)
		}
	}
	return out
}

// linkCopies runs once the root's image is published: each CONVEX name
// becomes this checkpoint's copy, and the replaced images' copies go.
// What fails here is a warning: the restart point is complete already
// (the restart finds each copy under its hidden name).
func (t *dumpTree) linkCopies(old []string) {
	if len(t.copies) == 0 && len(old) == 0 && len(t.procs) == 1 {
		return
	}
	dir := filepath.Dir(t.rootPath)
	for _, d := range t.procs[1:] {
		hidden := memberPath(d.path, t.id)
		c := copyRef{Name: filepath.Base(d.path), Gen: filepath.Base(hidden)}
		if err := linkCopy(dir, c, t.overwrite()); err != nil {
			t.log.Warn(fmt.Sprintf("%v; the member's image is %s", err, hidden))
			continue
		}
		old = append(old, hidden) // its own name holds it now
		publishStep("link " + c.Name)
	}
	for _, c := range t.copies {
		if err := linkCopy(dir, c, t.overwrite()); err != nil {
			t.log.Warn(fmt.Sprintf("%v; the image's copy is %s", err, filepath.Join(dir, c.Gen)))
		}
		publishStep("link " + c.Name)
	}
	if err := syncDir(dir); err != nil {
		// The new names may not be on disk: the old files stay.
		t.log.Warn(fmt.Sprintf("%s: fsync: %v; the replaced image's copies are left", dir, err))
		return
	}
	for _, p := range old {
		os.Remove(p)
		publishStep("remove " + filepath.Base(p))
	}
	syncDir(dir)
}

// memberPath is the name under which a member image of checkpoint id is
// published until the root's is (dumpTree.run): .NAME.ID beside it.
func memberPath(path, id string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+id)
}

// findMember is the file of the member image named name of checkpoint id
// in dir: under its name of that checkpoint if it is still there (the
// checkpoint was cut off between the root's publication and the members'),
// else its own name.
func findMember(dir, name, id string) string {
	path := filepath.Join(dir, name)
	if id == "" {
		return path
	}
	hidden := memberPath(path, id)
	var st unix.Stat_t
	if unix.Lstat(hidden, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		return hidden
	}
	return path
}

// linkCopy makes name c.Name a hard link to c.Gen: linked under a
// temporary name, then renamed over the old name. A filesystem without
// hard links gets a copy of the data instead.
func linkCopy(dir string, c copyRef, overwrite bool) error {
	gen, visible := filepath.Join(dir, c.Gen), filepath.Join(dir, c.Name)
	tmp := gen + ".ln"
	if err := os.Link(gen, tmp); err != nil {
		src, oerr := os.Open(gen)
		if oerr != nil {
			return fmt.Errorf("%s: %w", visible, oerr)
		}
		defer src.Close()
		fi, oerr := src.Stat()
		if oerr != nil {
			return fmt.Errorf("%s: %w", visible, oerr)
		}
		return writeFileAtomic(visible, src, fi.Mode().Perm(), overwrite)
	}
	flags := uint(unix.RENAME_NOREPLACE)
	if overwrite {
		flags = 0
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, visible, flags); err != nil {
		os.Remove(tmp)
		if err == unix.EEXIST {
			return fmt.Errorf("%s: %w", visible, ErrExists)
		}
		return &os.PathError{Op: "rename", Path: visible, Err: err}
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// openCopy opens the copy of descriptor f of p and checks that it is the
// one its image recorded: the image's hidden name, else its CONVEX name;
// a regular file (no symlink followed, no FIFO waited on) of the recorded
// size and content sum. The file is read once to check it; the caller
// reads it from the start.
func (r *restorer) openCopy(p *rproc, f fileDesc) (*os.File, error) {
	dir := filepath.Dir(p.img.Path)
	names := []string{f.Copy}
	if f.CopyGen != "" {
		names = []string{f.CopyGen, f.Copy}
	}
	var firstErr error
	for i, name := range names {
		path := filepath.Join(dir, name)
		file, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if errors.Is(err, os.ErrNotExist) && i < len(names)-1 {
			continue // moved by hand with its CONVEX name only
		}
		if errors.Is(err, unix.ELOOP) {
			err = fmt.Errorf("%s is a symbolic link: %w", path, ErrWrongCopy)
		}
		if err == nil {
			if err = r.checkCopy(file, path, f); err == nil {
				// SEEK_DATA and SEEK_HOLE moved the offset.
				if _, err = file.Seek(0, io.SeekStart); err == nil {
					return file, nil
				}
			}
			file.Close()
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// checkCopy checks an open copy of descriptor f (see openCopy).
func (r *restorer) checkCopy(file *os.File, path string, f fileDesc) error {
	fi, err := file.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%v): %w", path, fi.Mode().Type(), ErrWrongCopy)
	}
	if f.CopySum == "" {
		// Written by an engine that kept no sum: nothing to check it by.
		r.warn("%s: the image has no sum of this copy (an older engine): not checked", path)
		return nil
	}
	if fi.Size() != f.CopySize {
		return fmt.Errorf("%s has %d bytes, the image's copy %d: %w", path, fi.Size(), f.CopySize, ErrWrongCopy)
	}
	sum, err := sumSparse(file, f.CopySize)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if sum != f.CopySum {
		return fmt.Errorf("%s: its content is not the image's copy (changed, or of another checkpoint): %w", path, ErrWrongCopy)
	}
	return nil
}

// checkCopyRef checks what an image records of a copy (checkMeta).
func checkCopyRef(f fileDesc) error {
	if f.Copy == "" {
		if f.CopyGen != "" || f.CopySum != "" || f.CopySize != 0 {
			return fmt.Errorf("%w: fd %d: copy sum without a copy", ErrCorrupt, f.FD)
		}
		return nil
	}
	if err := checkChildName(f.Copy); err != nil {
		return err
	}
	if f.CopyGen != "" {
		if err := checkChildName(f.CopyGen); err != nil {
			return err
		}
	}
	if f.CopySize < 0 {
		return fmt.Errorf("%w: fd %d: copy of %d bytes", ErrCorrupt, f.FD, f.CopySize)
	}
	if f.CopySum != "" {
		if b, err := hex.DecodeString(f.CopySum); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("%w: fd %d: copy sum %q", ErrCorrupt, f.FD, f.CopySum)
		}
	}
	return nil
}

func copyKey(p *rproc, f fileDesc) string {
	name := f.Copy
	if f.CopyGen != "" {
		name = f.CopyGen
	}
	return filepath.Join(filepath.Dir(p.img.Path), name)
}

// checkUnlinkedCopy checks the copy of unlinked descriptor f before the
// restore begins and keeps it open for makeUnlinked (takeCopy).
func (r *restorer) checkUnlinkedCopy(p *rproc, f fileDesc) error {
	key := copyKey(p, f)
	if _, ok := r.copies[key]; ok {
		return nil // another descriptor of the same file
	}
	file, err := r.openCopy(p, f)
	if err != nil {
		return err
	}
	r.keepCopy(p, f, file)
	return nil
}

// takeCopy hands the checked copy of f over to the caller, who closes it;
// one not checked yet is checked now.
func (r *restorer) takeCopy(p *rproc, f fileDesc) (*os.File, error) {
	key := copyKey(p, f)
	if file, ok := r.copies[key]; ok {
		delete(r.copies, key)
		return file, nil
	}
	return r.openCopy(p, f)
}

func (r *restorer) closeCopies() {
	for _, f := range r.copies {
		f.Close()
	}
	r.copies = nil
}

// checkCopies checks, before anything is copied back or restored, every
// copy the restart reads: of each unlinked file (with -F one refused
// leaves its descriptor closed) and, with CopyBack, of each -C file (as
// the owner of the process's files, who copies it back).
func (r *restorer) checkCopies() error {
	for _, p := range r.procs {
		for _, f := range p.meta.Files {
			if !f.Unlinked || (f.Kind != fdFile && f.Kind != fdDir && f.Kind != fdDevice) || p.closed[f.FD] {
				continue
			}
			if err := r.checkUnlinkedCopy(p, f); err != nil {
				err = r.fail(p, fmt.Errorf("fd %d: the content of unlinked file %s: %w", f.FD, f.Path, err))
				if r.opts.CopiesRequired {
					return err
				}
				if e := r.forceable(err); e != nil {
					return e
				}
				p.closed[f.FD] = true
			}
		}
		if !r.opts.CopyBack {
			continue
		}
		err := func() error {
			runtime.LockOSThread() // asFileUser changes this thread's identity only
			defer runtime.UnlockOSThread()
			return asFileUser(r.fileCreds(p), func() error {
				for _, f := range p.meta.Files {
					if f.Copy == "" || f.Unlinked {
						continue
					}
					file, err := r.openCopy(p, f)
					if err != nil {
						return r.fail(p, fmt.Errorf("file copy from %s to %s failed: %w", f.Copy, f.Path, err))
					}
					r.keepCopy(p, f, file)
				}
				return nil
			})
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *restorer) keepCopy(p *rproc, f fileDesc, file *os.File) {
	if r.copies == nil {
		r.copies = map[string]*os.File{}
	}
	key := copyKey(p, f)
	if old, ok := r.copies[key]; ok {
		old.Close()
	}
	r.copies[key] = file
}
