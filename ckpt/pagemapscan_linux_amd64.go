package ckpt

import (
	"errors"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PAGEMAP_SCAN (Linux 6.7, fs/proc/task_mmu.c): one ioctl on
// /proc/PID/pagemap returns the runs of pages of a range that have given
// properties, where reading pagemap costs 8 bytes and a decode per page
// (262144 of them for a GiB, in the freeze).
const (
	pagemapScan   = 0xc0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pageIsFile    = 1 << 2
	pageIsPresent = 1 << 3
	pageIsSwapped = 1 << 4
	pageIsGuard   = 1 << 8 // a guard region's page (MADV_GUARD_INSTALL; Linux 6.15)
)

type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages       uint64
	categoryInverted, categoryMask, categoryAnyofMask, returnMask uint64
}

type pageRegion struct{ start, end, categories uint64 }

// errNoScan: the kernel has no PAGEMAP_SCAN; read pagemap instead.
var errNoScan = errors.New("no PAGEMAP_SCAN")

// scanSaved returns the runs of pages of [start, end) the image must hold
// (see savedRuns), merging runs closer than gap pages.
func scanSaved(pm *os.File, start, end uint64, file bool, gap uint64) ([][2]uint64, error) {
	runs, _, err := scanSavedGuards(pm, start, end, file, gap)
	return runs, err
}

// noGuardScan: the kernel refused PAGE_IS_GUARD (before 6.15).
var noGuardScan atomic.Bool

// scanSavedGuards is scanSaved that also returns the runs of guard pages
// (MADV_GUARD_INSTALL), which pagemap reports as swapped but which hold
// nothing (a read of one fails, EIO): they are left out of the saved
// runs, and no run is merged across one.
func scanSavedGuards(pm *os.File, start, end uint64, file bool, gap uint64) (runs, guards [][2]uint64, err error) {
	vec := make([]pageRegion, 1024)
	// PAGE_IS_FILE only where it matters: asking for it makes the kernel
	// look at the page of every present entry (vm_normal_page, PageAnon),
	// 22 ms for a GiB here against 1 without.
	ret := uint64(pageIsPresent | pageIsSwapped)
	if file {
		ret |= pageIsFile
	}
	if !noGuardScan.Load() {
		ret |= pageIsGuard
	}
	for start < end {
		a := pmScanArg{size: uint64(unsafe.Sizeof(pmScanArg{})), start: start, end: end,
			vec: uint64(uintptr(unsafe.Pointer(&vec[0]))), vecLen: uint64(len(vec)),
			categoryAnyofMask: pageIsPresent | pageIsSwapped, returnMask: ret}
		n, _, e := unix.Syscall(unix.SYS_IOCTL, pm.Fd(), pagemapScan, uintptr(unsafe.Pointer(&a)))
		if e == unix.EINTR {
			continue
		}
		if e == unix.EINVAL && ret&pageIsGuard != 0 {
			noGuardScan.Store(true)
			ret &^= pageIsGuard
			continue
		}
		if e == unix.ENOTTY || e == unix.EINVAL {
			return nil, nil, errNoScan
		}
		if e != 0 {
			return nil, nil, os.NewSyscallError("ioctl PAGEMAP_SCAN", e)
		}
		runs, guards = addScanned(runs, guards, vec[:n], start, end, file, gap)
		if a.walkEnd <= start {
			break
		}
		start = a.walkEnd
	}
	return runs, guards, nil
}

// addScanned adds the entries vec of a PAGEMAP_SCAN of [start, end) to
// runs (pages to save, merged across gaps under gap pages) and guards.
func addScanned(runs, guards [][2]uint64, vec []pageRegion, start, end uint64, file bool, gap uint64) ([][2]uint64, [][2]uint64) {
	for _, r := range vec {
		// An empty entry (start == end) or one outside what was asked
		// says nothing of a page: skipped, and the rest clamped. (An
		// image written under CI's load once held a segment 0x0+0x0,
		// which no restart accepts; an empty first entry {0, 0} of a
		// scan is the likeliest way there, and layout now refuses any
		// such run whatever made it.)
		r.start, r.end = max(r.start, start), min(r.end, end)
		if r.end <= r.start {
			continue
		}
		if r.categories&pageIsGuard != 0 {
			if k := len(guards); k > 0 && guards[k-1][1] == r.start {
				guards[k-1][1] = r.end
			} else {
				guards = append(guards, [2]uint64{r.start, r.end})
			}
			continue
		}
		// Of a private file mapping only the pages copied on write
		// (present and not file pages) or swapped out.
		if file && r.categories&pageIsSwapped == 0 && r.categories&pageIsFile != 0 {
			continue
		}
		if k := len(runs); k > 0 && r.start <= runs[k-1][1]+(gap-1)*pageSize && !guardAfter(guards, runs[k-1][1]) {
			runs[k-1][1] = max(runs[k-1][1], r.end)
		} else {
			runs = append(runs, [2]uint64{r.start, r.end})
		}
	}
	return runs, guards
}

// guardAfter reports whether the last guard run starts at or after a.
func guardAfter(guards [][2]uint64, a uint64) bool {
	return len(guards) > 0 && guards[len(guards)-1][0] >= a
}
