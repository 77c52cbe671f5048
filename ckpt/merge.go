package ckpt

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
)

// Merging a chain. Merge rewrites every incremental image of a tree as a
// self-contained one: the same process, its memory read through its
// chain (each segment of each image verified as it is read), written
// under a temporary name, fsynced and renamed over the image, the root's
// last. The merged image carries the digest of the image it replaces
// (imageMeta.State): images made against that one accept it as their
// parent, so a batch system can merge a generation and then remove the
// ones below it. A crash in between leaves each image either as it was
// or merged, both whole.

// MergeOptions are the options of Merge.
type MergeOptions struct {
	// Key authenticates the images and the merged ones (see
	// CheckpointOptions.Key). With a key, a chain that does not
	// authenticate with it is refused: the merge would vouch for it.
	Key    []byte
	Logger *slog.Logger
}

// Merge makes the images of the tree whose root image is path
// self-contained, durably, in place. It returns the images it rewrote.
func Merge(ctx context.Context, path string, opts MergeOptions) ([]string, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(discardHandler{})
	}
	_, procs, err := loadTree(path, opts.Key)
	if err != nil {
		return nil, err
	}
	var done []string
	for i := len(procs) - 1; i >= 0; i-- {
		img := procs[i].img
		if img.parent == nil {
			continue
		}
		if opts.Key != nil && !img.chainAuthentic() {
			return done, &ImageError{Path: img.Path, Err: fmt.Errorf("%w: not authentic with the key: not merged", ErrParent)}
		}
		if err := mergeImage(ctx, img, opts.Key, log); err != nil {
			return done, err
		}
		done = append(done, img.Path)
	}
	return done, nil
}

// piece is a run of a merged region's pages and the extent of the image
// that holds them.
type piece struct {
	start, end uint64
	img        *Image
	e          extent
}

// resolve returns the pieces of region rg of img, through its chain.
func resolve(img *Image, rg region) ([]piece, error) {
	ls, err := img.layers(rg)
	if err != nil {
		return nil, err
	}
	var ps []piece
	for _, l := range ls {
		var cut [][2]uint64
		var add []piece
		for _, e := range l.rg.Extents {
			cut = append(cut, [2]uint64{e.Addr, e.Addr + e.Len})
			add = append(add, piece{e.Addr, e.Addr + e.Len, l.img, e})
		}
		cut = unionRuns(cut, l.rg.Clear)
		var kept []piece
		for _, p := range ps {
			for _, r := range subtractRuns([][2]uint64{{p.start, p.end}}, cut) {
				kept = append(kept, piece{r[0], r[1], p.img, p.e})
			}
		}
		ps = append(kept, add...)
		sort.Slice(ps, func(i, j int) bool { return ps[i].start < ps[j].start })
	}
	return ps, nil
}

func mergeImage(ctx context.Context, img *Image, key []byte, log *slog.Logger) (retErr error) {
	var meta imageMeta
	js, err := marshalMeta(img.meta)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		return err
	}
	unescapeMeta(&meta)
	meta.Parent, meta.State = nil, img.stateDigest()
	d := &dumper{meta: meta, path: img.Path, comm: meta.Comm, pid: meta.PID, log: log,
		opts: CheckpointOptions{Key: key}, zombie: meta.Zombie != nil}
	var pieces []piece
	var off uint64
	for i := range d.meta.Regions {
		r := &d.meta.Regions[i]
		ps, err := resolve(img, img.meta.Regions[i])
		if err != nil {
			return err
		}
		pieces = append(pieces, ps...)
		var runs [][2]uint64
		for _, p := range ps {
			runs = appendRun(runs, p.start, p.end)
		}
		r.FromParent, r.Clear, r.Extents = false, nil, nil
		pos := r.Start
		for _, run := range splitRuns(runs, segMax) {
			if run[0] > pos {
				d.loads = append(d.loads, load{vaddr: pos, memsz: run[0] - pos, prot: r.Prot})
			}
			n := run[1] - run[0]
			d.loads = append(d.loads, load{vaddr: run[0], memsz: n, filesz: n, off: off, prot: r.Prot})
			r.Extents = append(r.Extents, extent{Addr: run[0], Len: n, Off: off})
			off += n
			pos = run[1]
		}
		if pos < r.End {
			d.loads = append(d.loads, load{vaddr: pos, memsz: r.End - pos, prot: r.Prot})
		}
	}
	if len(d.loads) > maxLoads {
		return &ImageError{Path: img.Path, Err: fmt.Errorf("%w: merged, %d memory segments exceeds max of %d", ErrUnsupported, len(d.loads), maxLoads)}
	}
	d.dataLen = off
	for i := range img.regs {
		d.tregs = append(d.tregs, arrayToRegs(&img.regs[i]))
	}
	d.txstate = img.xstate
	pool, err := newBufPool(0)
	if err != nil {
		return err
	}
	defer pool.close()
	w, err := d.newImageWriter(pool)
	if err != nil {
		return err
	}
	src := &mergeSource{pieces: pieces, files: map[*Image]*os.File{}}
	defer src.close()
	if err := w.write(ctx, allSegments(len(w.exts)), src, nil, nil); err != nil {
		w.abort()
		return err
	}
	tmp, err := w.finish()
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := publish(tmp, img.Path, true); err != nil {
		os.Remove(tmp)
		return err
	}
	log.Info(fmt.Sprintf("%s: merged, %d KiB of memory", img.Path, off/1024))
	return nil
}

// mergeSource reads a merged image's bytes from the images of its chain,
// each segment read whole and verified before any of it is used.
type mergeSource struct {
	pieces []piece // in address order
	files  map[*Image]*os.File
	cache  []cachedSeg
}

type cachedSeg struct {
	img  *Image
	e    extent
	data []byte
}

// mergeCache: segments kept verified, the least recently used dropped
// first (a segment is cut by the pages of newer images, and met again
// after them).
const mergeCache = 4

func (s *mergeSource) close() {
	for _, f := range s.files {
		f.Close()
	}
}

func (s *mergeSource) read(b []byte, e extent, off uint64) error {
	clear(b)
	lo, hi := e.Addr+off, e.Addr+off+uint64(len(b))
	i := sort.Search(len(s.pieces), func(i int) bool { return s.pieces[i].end > lo })
	for ; i < len(s.pieces) && s.pieces[i].start < hi; i++ {
		p := s.pieces[i]
		data, err := s.segment(p.img, p.e)
		if err != nil {
			return err
		}
		a, z := max(lo, p.start), min(hi, p.end)
		copy(b[a-lo:z-lo], data[a-p.e.Addr:z-p.e.Addr])
	}
	return nil
}

// segment returns the bytes of extent e of img, verified.
func (s *mergeSource) segment(img *Image, e extent) ([]byte, error) {
	for i, c := range s.cache {
		if c.img == img && c.e == e {
			// Least recently used goes first: a parent's big segment is
			// met again after each of the newer images' small ones.
			s.cache = append(append(s.cache[:i:i], s.cache[i+1:]...), c)
			return c.data, nil
		}
	}
	f, ok := s.files[img]
	if !ok {
		var err error
		if f, err = openImage(img.Path); err != nil {
			return nil, err
		}
		s.files[img] = f
	}
	data := make([]byte, e.Len)
	if err := img.readSegment(f, e, 0, data); err != nil {
		return nil, &ImageError{Path: img.Path, Err: err}
	}
	c := img.checkSegment(e)
	c.h.write(data)
	if err := c.verify(); err != nil {
		return nil, err
	}
	if len(s.cache) == mergeCache {
		s.cache = s.cache[1:]
	}
	s.cache = append(s.cache, cachedSeg{img, e, data})
	return data, nil
}
