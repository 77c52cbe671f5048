package ckpt

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Prefaulting. Most of what a restore of fresh memory costs on these VMs
// is not the copy but the page faults: a page the guest has not touched
// since it went back to the host (free page reporting) is backed by the
// host on its first write, and a process's pread takes those faults one
// after the other on the one CPU it runs on. Faults of one memory on two
// CPUs at once go more than twice as fast here (a C loop touching 4 GiB
// of fresh memory: 3.4-6.5 s with one thread, 1.4-2.7 s with two), so
// while the process reads one piece of an anonymous region, goroutines of
// the restorer fault in the next pieces of the same data run: they write
// zeros there with process_vm_writev, which takes the process's faults on
// the restorer's CPUs. The pread then copies into pages that are already
// there.
//
// Only bytes the process reads next are written (a piece of a data run of
// the image, never a hole: the memory used is what the restore uses
// anyway), of private anonymous memory only (zeros written into a shared
// object or a file's page would be seen, or copied for nothing), and no
// prefault is in flight over a range while the process reads into it:
// before each read, every prefault that began below its end is waited
// for. What is checked is still what the read wrote, after it.

const (
	// prefaultPiece is one process_vm_writev of zeros.
	prefaultPiece = 2 << 20
	// prefaultAhead bounds how far ahead of the read they go (pieces of
	// 1, 2, 4 and 8 MiB, 2 to 8 ahead, measured the same within this
	// VM's noise).
	prefaultAhead = 4
)

// prefaultZeros is the source of every prefault write.
var prefaultZeros = make([]byte, 256<<10)

type prefaultRange struct {
	start, end uint64
	done       chan error
}

// prefaulter faults in the data run of one region ahead of the reads.
type prefaulter struct {
	write    func(addr, n uint64) error // writeZeros into the process
	on       bool                       // the region being filled is private anonymous memory
	failed   bool                       // a prefault failed: none for the rest of the process
	inFlight []prefaultRange
	next     uint64 // the end of what was handed out in this run
	runEnd   uint64
}

// startRun begins a data run [start, end) of process memory.
func (pf *prefaulter) startRun(start, end uint64) {
	pf.wait(^uint64(0))
	pf.next, pf.runEnd = start, end
}

// before is called before the process reads [addr, addr+n) of the run:
// it hands out prefaults up to prefaultAhead pieces beyond it and waits
// for those that overlap it.
func (pf *prefaulter) before(addr, n uint64) {
	if !pf.on || pf.failed {
		return
	}
	if pf.next < addr+n {
		// Not prefaulted (the first piece of a run): the read faults
		// it in itself; the prefaults go on after it.
		pf.next = min(addr+n, pf.runEnd)
	}
	for len(pf.inFlight) < prefaultAhead && pf.next < pf.runEnd {
		r := prefaultRange{start: pf.next, end: min(pf.next+prefaultPiece, pf.runEnd), done: make(chan error, 1)}
		pf.next = r.end
		pf.inFlight = append(pf.inFlight, r)
		go func() { r.done <- pf.write(r.start, r.end-r.start) }()
	}
	pf.wait(addr + n)
}

// wait waits for every prefault in flight that begins below end. A
// prefault that fails only leaves the read to fault its pages in itself,
// as it did before prefaulting existed (the read and its check decide
// whether the memory is right): the process's other reads go without.
func (pf *prefaulter) wait(end uint64) {
	for len(pf.inFlight) > 0 && pf.inFlight[0].start < end {
		if err := <-pf.inFlight[0].done; err != nil {
			pf.failed = true
		}
		pf.inFlight = pf.inFlight[1:]
	}
}

// writeZeros writes n zero bytes at addr of process pid: its pages are
// faulted in.
func writeZeros(pid int, addr, n uint64) error {
	z := uint64(len(prefaultZeros))
	local := make([]unix.Iovec, 0, (n+z-1)/z)
	for done := uint64(0); done < n; done += z {
		local = append(local, unix.Iovec{Base: (*byte)(unsafe.Pointer(&prefaultZeros[0])), Len: min(z, n-done)})
	}
	for done := uint64(0); done < n; {
		// Skip the local vectors already written whole.
		skip := done / z
		iov := local[skip:]
		if off := done % z; off != 0 {
			first := unix.Iovec{Base: (*byte)(unsafe.Pointer(&prefaultZeros[off])), Len: min(z-off, n-done)}
			iov = append([]unix.Iovec{first}, iov[1:]...)
		}
		remote := []unix.RemoteIovec{{Base: uintptr(addr + done), Len: int(n - done)}}
		got, err := unix.ProcessVMWritev(pid, iov, remote, 0)
		if err != nil {
			return err
		}
		if got <= 0 {
			return fmt.Errorf("process_vm_writev wrote nothing at %#x", addr+done)
		}
		done += uint64(got)
	}
	return nil
}
