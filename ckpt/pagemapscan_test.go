package ckpt

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestPagemapScanMatchesPagemap: the runs of saved pages PAGEMAP_SCAN gives
// are those reading pagemap page by page gives, for anonymous memory and
// for a private file mapping with pages copied on write.
func TestPagemapScanMatchesPagemap(t *testing.T) {
	needRoot(t)
	anon, err := unix.Mmap(-1, 0, 256*pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(anon)
	for _, p := range []int{1, 2, 5, 40, 41, 100, 200, 255} {
		anon[p*pageSize] = 1
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 64*pageSize), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fm, err := unix.Mmap(int(f.Fd()), 0, 64*pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(fm)
	for p := 0; p < 64; p++ {
		_ = fm[p*pageSize] // file pages, present
	}
	for _, p := range []int{3, 4, 30, 63} {
		fm[p*pageSize] = 2 // copied on write
	}
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	d := &dumper{pid: os.Getpid(), comm: "self"}
	for _, c := range []struct {
		name string
		b    []byte
		kind string
	}{{"anon", anon, regionAnon}, {"file", fm, regionFile}} {
		t.Run(c.name, func(t *testing.T) {
			start := uint64(uintptr(unsafePointer(c.b)))
			r := &region{Start: start, End: start + uint64(len(c.b)), Kind: c.kind}
			usePagemapScan = true
			scan, err := d.savedRuns(pm, r)
			if err != nil {
				t.Fatal(err)
			}
			usePagemapScan = false
			read, err := d.savedRuns(pm, r)
			usePagemapScan = true
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(scan, read) || len(scan) == 0 {
				t.Fatalf("PAGEMAP_SCAN runs %x, pagemap runs %x", scan, read)
			}
		})
	}
}

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

// TestAddScannedSkipsEmpty: entries of a PAGEMAP_SCAN that hold no page
// (an empty {0, 0}, as the kernel leaves a range it backs out) or reach
// outside the range asked for never become a run to save: an image with
// a segment 0x0+0x0 is one no restart accepts.
func TestAddScannedSkipsEmpty(t *testing.T) {
	const base = 0x7f0000000000
	vec := []pageRegion{
		{0, 0, 0},
		{base - pageSize, base + 2*pageSize, pageIsPresent},
		{base + 5*pageSize, base + 5*pageSize, pageIsPresent},
		{base + 40*pageSize, base + 41*pageSize, pageIsSwapped},
		{base + 63*pageSize, base + 70*pageSize, pageIsPresent},
	}
	runs, guards := addScanned(nil, nil, vec, base, base+64*pageSize, false, 1)
	want := [][2]uint64{{base, base + 2*pageSize}, {base + 40*pageSize, base + 41*pageSize}, {base + 63*pageSize, base + 64*pageSize}}
	if !slices.Equal(runs, want) || len(guards) != 0 {
		t.Errorf("runs %#x guards %#x, want %#x and none", runs, guards, want)
	}
}
