package ckpt

// Two private anonymous regions side by side were two mappings (two
// lines of /proc/PID/maps) for a reason the maps do not show: one was
// moved there by mremap (it keeps the page offset of where it was made,
// and its anon_vma), or was made by another process before a fork.
// Mapped again by mmap at their addresses, the kernel merges them into
// one: the page offset of a new anonymous mapping follows its address.
// The second is made elsewhere instead, given an anon_vma (one page
// faulted in, then dropped), and moved into place with mremap, which
// keeps the page offset of a mapping that has one: the two stay apart,
// as they were.

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// keptApart reports whether rg must be mapped apart from prev, the
// region just below it.
func keptApart(prev, rg region, m *imageMeta) bool {
	if prev.End != rg.Start || prev.Kind != regionAnon || rg.Kind != regionAnon {
		return false
	}
	// A stack grows, a droppable mapping is of its own kind, and the
	// heap is extended in place by brk only when its page offset follows
	// its address.
	if rg.Stack || prev.Stack || rg.droppable() || prev.droppable() || rg.Start == m.MM.StartBrk {
		return false
	}
	// Different protections or advice keep them apart anyway, and later
	// may merge them as they would have (an mprotect of the program's).
	return prev.Prot == rg.Prot && slices.Equal(sortedAdvice(prev), sortedAdvice(rg))
}

func sortedAdvice(r region) []string {
	a := slices.Clone(r.Advice)
	slices.Sort(a)
	return a
}

// mapApart maps the anonymous region rg (mmap flags, protection prot)
// elsewhere and moves it to its place (see above).
func (b *builder) mapApart(rg region, prot, flags uint64) error {
	length := rg.End - rg.Start
	tmp, err := b.call("mmap", unix.SYS_MMAP, 0, length, prot|unix.PROT_READ|unix.PROT_WRITE, flags&^unix.MAP_FIXED, ^uint64(0), 0)
	if err != nil {
		return fmt.Errorf("mmap %#x-%#x (to be moved): %w", rg.Start, rg.End, err)
	}
	if _, err := b.mem.WriteAt([]byte{0}, int64(tmp)); err != nil {
		return fmt.Errorf("region %#x-%#x: fault its first page: %w", rg.Start, rg.End, err)
	}
	if _, err := b.call("madvise", unix.SYS_MADVISE, tmp, pageSize, unix.MADV_DONTNEED); err != nil {
		return fmt.Errorf("region %#x-%#x: madvise(MADV_DONTNEED): %w", rg.Start, rg.End, err)
	}
	if prot&unix.PROT_WRITE == 0 || prot&unix.PROT_READ == 0 {
		if _, err := b.call("mprotect", unix.SYS_MPROTECT, tmp, length, prot); err != nil {
			return fmt.Errorf("region %#x-%#x: mprotect: %w", rg.Start, rg.End, err)
		}
	}
	if _, err := b.call("mremap", unix.SYS_MREMAP, tmp, length, length, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, rg.Start); err != nil {
		return fmt.Errorf("region %#x-%#x: mremap into place: %w", rg.Start, rg.End, err)
	}
	return nil
}
