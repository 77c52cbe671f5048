package ckpt

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Incremental images. An image made against a parent (CheckpointOptions.
// Parent) names it (imageMeta.Parent: its path relative to the image's own
// directory, its checkpoint id and its digest) and holds, of each region
// whose writes were tracked since the parent's checkpoint (FromParent), only
// the pages written since; every other page of such a region is the
// parent's, but for the runs in Clear: pages the parent holds that are gone
// since (unmapped and mapped again, MADV_DONTNEED: zero in anonymous
// memory, the file's in a private file mapping). Every other region is
// whole, as in a self-contained image.
//
// The digest binds the exact parent: SHA-256 of its headers and notes,
// which hold the checksum (and HMAC) of every segment. An image whose
// parent is missing, of another checkpoint, or another file than the one
// it was made against, is refused (ErrParent) and never restored from
// something else. A merged image (merge.go) carries the digest of the
// image it replaces (imageMeta.State), so images made against that one
// still accept it; it is authentic only with the key, as every image.
//
// A restore reads through the chain: each inherited region is filled from
// its oldest image up, every segment of every image verified from the
// process's memory before the next image's pages go over it (memFill.sync),
// the Clear runs dropped in between. The chain is at most maxChain images
// deep.

// maxChain bounds the images of a chain, the self-contained one included.
const maxChain = 32

// maxClear bounds the Clear runs of one image.
const maxClear = 1 << 20

// parentRef names the parent of an incremental image.
type parentRef struct {
	Path       string `json:"path"`       // relative to the image's directory
	Checkpoint string `json:"checkpoint"` // the parent's checkpoint id
	Digest     string `json:"digest"`     // the parent's state digest (hex SHA-256)
	Depth      int    `json:"depth"`      // images below this one, the parent included
}

// checkIncremental checks what an image says of its chain.
func checkIncremental(m *imageMeta) error {
	if p := m.Parent; p != nil {
		if p.Path == "" || filepath.IsAbs(p.Path) || strings.ContainsRune(p.Path, 0) || filepath.Clean(p.Path) != p.Path {
			return fmt.Errorf("%w: parent path %q", ErrCorrupt, p.Path)
		}
		if p.Checkpoint == "" || !isDigest(p.Digest) || p.Depth < 1 || p.Depth >= maxChain {
			return fmt.Errorf("%w: parent %q: id %q, digest %q, depth %d", ErrCorrupt, p.Path, p.Checkpoint, p.Digest, p.Depth)
		}
	}
	if m.State != "" && !isDigest(m.State) {
		return fmt.Errorf("%w: state digest %q", ErrCorrupt, m.State)
	}
	if m.Track != nil && (m.Track.FD < 0 || m.Track.FD > maxFiles) {
		return fmt.Errorf("%w: tracker fd %d", ErrCorrupt, m.Track.FD)
	}
	clears := 0
	for _, rg := range m.Regions {
		if !rg.FromParent {
			if len(rg.Clear) > 0 {
				return fmt.Errorf("%w: region %#x-%#x: runs to clear in a whole region", ErrCorrupt, rg.Start, rg.End)
			}
			continue
		}
		if m.Parent == nil || (rg.Kind != regionAnon && rg.Kind != regionFile) {
			return fmt.Errorf("%w: region %#x-%#x (%s) inherits without a parent", ErrCorrupt, rg.Start, rg.End, rg.Kind)
		}
		if clears += len(rg.Clear); clears > maxClear {
			return fmt.Errorf("%w: more than %d runs to clear", ErrCorrupt, maxClear)
		}
		pos := rg.Start
		for _, c := range rg.Clear {
			if c[0] < pos || c[1] <= c[0] || c[1] > rg.End || c[0]%pageSize != 0 || c[1]%pageSize != 0 {
				return fmt.Errorf("%w: region %#x-%#x: bad run to clear %#x-%#x", ErrCorrupt, rg.Start, rg.End, c[0], c[1])
			}
			pos = c[1]
		}
	}
	return nil
}

func isDigest(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// stateDigest is what an image made against img records of it.
func (img *Image) stateDigest() string {
	if img.meta.State != "" {
		return img.meta.State
	}
	return hex.EncodeToString(img.digest[:])
}

// depth is the number of images below img in its chain.
func (img *Image) depth() int {
	if img.meta.Parent == nil {
		return 0
	}
	return img.meta.Parent.Depth
}

// Parent returns the path of the image this one was made against, as the
// image names it (relative to its directory); "": a self-contained image.
func (img *Image) Parent() string {
	if img.meta.Parent == nil {
		return ""
	}
	return img.meta.Parent.Path
}

// Incremental reports whether the image holds only what changed since its
// parent.
func (img *Image) Incremental() bool { return img.meta.Parent != nil }

// readImageChain reads the image at path and every image of its chain.
func readImageChain(path string, key []byte) (*Image, error) {
	img, err := readImage(path, key)
	if err != nil {
		return nil, err
	}
	if err := loadChain(img, key); err != nil {
		return nil, err
	}
	return img, nil
}

// loadChain reads the parents of img, each checked against what its child
// says of it.
func loadChain(img *Image, key []byte) error {
	for cur := img; cur.meta.Parent != nil; cur = cur.parent {
		ref := cur.meta.Parent
		path := filepath.Join(filepath.Dir(cur.Path), ref.Path)
		p, err := readImage(path, key)
		if err != nil {
			return &ImageError{Path: cur.Path, Err: fmt.Errorf("%w: parent %s: %w", ErrParent, ref.Path, err)}
		}
		switch {
		case p.meta.Checkpoint != ref.Checkpoint:
			err = fmt.Errorf("is of checkpoint %s, not %s", p.meta.Checkpoint, ref.Checkpoint)
		case p.stateDigest() != ref.Digest:
			err = fmt.Errorf("is not the image this one was made against (digest %.16s..., want %.16s...)", p.stateDigest(), ref.Digest)
		case !sameProcess(p.meta, cur.meta):
			err = fmt.Errorf("is of pid %d, not %d", p.meta.PID, cur.meta.PID)
		case p.depth() >= ref.Depth:
			// Fewer is a merge's doing; never as many: the chain ends.
			err = fmt.Errorf("has %d images below it, fewer than %d expected", p.depth(), ref.Depth)
		}
		if err != nil {
			return &ImageError{Path: cur.Path, Err: fmt.Errorf("%w: %w: parent %s %w", ErrParent, ErrCorrupt, ref.Path, err)}
		}
		cur.parent = p
	}
	return nil
}

// verifyChain verifies every image below the image at path, whose own
// segments verified (authentic: with the key); the chain is authentic if
// every image of it is.
func verifyChain(path string, key []byte, authentic bool) (bool, error) {
	img, err := readImageChain(path, key)
	if err != nil {
		return false, err
	}
	for p := img.parent; p != nil; p = p.parent {
		f, err := openImage(p.Path)
		if err != nil {
			return false, &ImageError{Path: img.Path, Err: fmt.Errorf("%w: %w", ErrParent, err)}
		}
		a, err := verifyImage(f, p.size, key, p.Path)
		f.Close()
		if err != nil {
			return false, err
		}
		authentic = authentic && a
	}
	return authentic, nil
}

// chainAuthentic reports whether every image of img's chain is authentic:
// a forged parent would put its pages into an authentic image's process.
func (img *Image) chainAuthentic() bool {
	for cur := img; cur != nil; cur = cur.parent {
		if !cur.authentic {
			return false
		}
	}
	return true
}

// regionAt returns img's region [start, end), nil if it has none.
func (img *Image) regionAt(start, end uint64) *region {
	rs := img.meta.Regions
	i := sort.Search(len(rs), func(i int) bool { return rs[i].Start >= start })
	if i < len(rs) && rs[i].Start == start && rs[i].End == end {
		return &rs[i]
	}
	return nil
}

// layer is what one image of a chain holds of a region.
type layer struct {
	img *Image
	rg  region
}

// layers returns the images that make region rg of img, the oldest first.
func (img *Image) layers(rg region) ([]layer, error) {
	var out []layer
	cur, r := img, rg
	for {
		out = append(out, layer{cur, r})
		if !r.FromParent {
			break
		}
		if cur.parent == nil {
			return nil, &ImageError{Path: cur.Path, Err: fmt.Errorf("%w: region %#x-%#x inherits from a parent not read", ErrParent, r.Start, r.End)}
		}
		pr := cur.parent.regionAt(r.Start, r.End)
		if pr == nil || pr.Kind != r.Kind {
			return nil, &ImageError{Path: cur.Path, Err: fmt.Errorf("%w: region %#x-%#x is not in the parent %s", ErrCorrupt, r.Start, r.End, cur.parent.Path)}
		}
		cur, r = cur.parent, *pr
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// coverage is every address of region rg of img that some image of its
// chain holds a page of (more than that is harmless: see Clear).
func (img *Image) coverage(rg region) ([][2]uint64, error) {
	ls, err := img.layers(rg)
	if err != nil {
		return nil, err
	}
	var cov [][2]uint64
	for _, l := range ls {
		var rs [][2]uint64
		for _, e := range l.rg.Extents {
			rs = append(rs, [2]uint64{e.Addr, e.Addr + e.Len})
		}
		cov = unionRuns(cov, rs)
	}
	return cov, nil
}

// hasData reports whether the restore has pages to put into rg.
func (rg region) hasData() bool { return len(rg.Extents) > 0 || rg.FromParent }

// Runs: sorted, disjoint [start, end) address ranges.

func unionRuns(a, b [][2]uint64) [][2]uint64 {
	all := append(append([][2]uint64(nil), a...), b...)
	sort.Slice(all, func(i, j int) bool { return all[i][0] < all[j][0] })
	var out [][2]uint64
	for _, r := range all {
		if k := len(out); k > 0 && r[0] <= out[k-1][1] {
			out[k-1][1] = max(out[k-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

func intersectRuns(a, b [][2]uint64) [][2]uint64 {
	var out [][2]uint64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
		if lo < hi {
			out = append(out, [2]uint64{lo, hi})
		}
		if a[i][1] < b[j][1] {
			i++
		} else {
			j++
		}
	}
	return out
}

// subtractRuns returns a less b.
func subtractRuns(a, b [][2]uint64) [][2]uint64 {
	var out [][2]uint64
	j := 0
	for _, r := range a {
		lo := r[0]
		for j < len(b) && b[j][1] <= lo {
			j++
		}
		for k := j; k < len(b) && b[k][0] < r[1]; k++ {
			if b[k][0] > lo {
				out = append(out, [2]uint64{lo, b[k][0]})
			}
			lo = max(lo, b[k][1])
		}
		if lo < r[1] {
			out = append(out, [2]uint64{lo, r[1]})
		}
	}
	return out
}

// mergeGaps joins runs closer than gap pages.
func mergeGaps(rs [][2]uint64, gap uint64) [][2]uint64 {
	var out [][2]uint64
	for _, r := range rs {
		if k := len(out); k > 0 && r[0] <= out[k-1][1]+(gap-1)*pageSize {
			out[k-1][1] = max(out[k-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// relPath is target relative to the directory dir.
func relPath(dir, target string) (string, error) {
	ad, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	at, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	return filepath.Rel(ad, at)
}

// parentTree reads the tree of the image at path, with the chain of every
// member, and returns its images by pid.
func parentTree(path string, key []byte) (map[int]*Image, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParent, err)
	}
	_, procs, err := loadTree(path, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParent, err)
	}
	out := map[int]*Image{}
	for _, p := range procs {
		out[p.meta.PID] = p.img
	}
	return out, nil
}

// trackRecord identifies the dirty-page tracker left in a process at a
// checkpoint: its descriptor and inode there, the boot and the process's
// start time (a pid used again, or a reboot, is another process).
type trackRecord struct {
	FD    int    `json:"fd"`
	Ino   uint64 `json:"ino"`
	Boot  string `json:"boot"`
	Start uint64 `json:"start"`
}

// regionIncr is what an incremental image holds of a region it inherits:
// the runs written since the parent, and the parent's runs gone since.
type regionIncr struct {
	saved [][2]uint64
	clear [][2]uint64
}

// sameMapping reports whether region r maps what the parent's pr did.
func sameMapping(r, pr region) bool {
	if r.Kind != pr.Kind || r.Name != pr.Name || r.Offset != pr.Offset || (r.File == nil) != (pr.File == nil) {
		return false
	}
	return r.File == nil || (r.File.Dev == pr.File.Dev && r.File.Ino == pr.File.Ino)
}

// trackable reports whether writes to region r can be tracked: private
// memory only (a shared page is written through other mappings too), and
// not a region saved whole anyway.
func trackable(r region, p regionPlan) bool {
	return (r.Kind == regionAnon && !p.full) || r.Kind == regionFile
}

// linkParents names, in each image that inherits regions, its parent.
func (t *dumpTree) linkParents(res *CheckpointResult) error {
	for _, d := range t.procs {
		p := d.parentImg
		inherits := false // the regions are laid out later (planDeferred)
		for _, pl := range d.plan {
			inherits = inherits || pl.incr != nil
		}
		if p == nil || !inherits {
			continue
		}
		rel, err := relPath(filepath.Dir(d.path), p.Path)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrParent, p.Path, err)
		}
		d.meta.Parent = &parentRef{Path: rel, Checkpoint: p.meta.Checkpoint, Digest: p.stateDigest(), Depth: p.depth() + 1}
		res.Incremental = true
	}
	return nil
}

// twinDropper returns what the image writer tells of the ranges written
// from d's twin (twin.drop): ranges of one region closer than
// dropGapMax are dropped together, by twinDropChunk or more, so that the
// scattered pages of an incremental image cost one injected madvise per
// chunk, not one per page. A gap dropped with them holds nothing still to
// be read: the twin is read in address order, and what is told is read.
func (d *dumper) twinDropper() func(addr, n uint64) error {
	var start, end uint64
	region := -1
	regionOf := func(a uint64) int {
		rs := d.meta.Regions
		i := sort.Search(len(rs), func(i int) bool { return rs[i].End > a })
		if i < len(rs) && rs[i].Start <= a {
			return i
		}
		return -1
	}
	return func(addr, n uint64) error {
		r := regionOf(addr)
		if region >= 0 && r == region && addr >= end && addr-end <= dropGapMax {
			end = addr + n
		} else {
			if region >= 0 {
				if err := d.twin.drop(start, end-start); err != nil {
					return err
				}
			}
			start, end, region = addr, addr+n, r
		}
		if end-start >= twinDropChunk || r < 0 {
			region = -1
			return d.twin.drop(start, end-start)
		}
		return nil
	}
}

// dropGapMax: ranges further apart are dropped apart.
const dropGapMax = 1 << 20
