// Package ckpt is Lazarus's checkpoint/restart engine: it saves a running,
// unmodified Linux process into an image file and brings it back from it,
// with nothing but ptrace, /proc and ordinary system calls (no kernel
// module, no LD_PRELOAD, no help from the program).
//
// Checkpoint freezes the target (PTRACE_SEIZE + PTRACE_INTERRUPT), reads its
// registers and extended FPU state, its memory map and pages (pagemap tells
// which pages exist; only present pages are saved, all-zero ones become
// holes), its descriptors, and asks the process itself, by injected system
// calls, for what only it can tell (signal actions, timers, tid address,
// brk). Then the private memory of each process is write-protected
// through a userfaultfd, and a handler copies a page out before the
// process writes it (uffdsnap_linux_amd64.go); where that cannot be (a
// dirty-page tracker to keep, memory registered with another userfaultfd,
// memory unmapped while the image is written) the process is cloned,
// still frozen, into a copy-on-write twin (twin.go). Either way the target
// runs again after a stop that costs what its page tables take to walk,
// and its image is written, as of the freeze, while it runs, with bounded
// buffers and direct I/O (imagewrite.go, dumpwrite.go).
//
// Restart execs the original executable as a stopped stub, clones the
// process out of it with its old PID (clone3 set_tid, CLONE_PARENT so the
// caller is its parent), and rebuilds it by injected system calls: unmap
// everything, map every region and have the process pread its saved pages
// into place from the image (fastrestore.go: O_DIRECT what the page cache
// does not hold; each segment verified from the process's memory before it
// runs), put the vDSO back, set the mm
// fields with PR_SET_MM_MAP, reopen files, restore signals, timers, rseq,
// credentials, then limits and nice (with the credentials dropped), then
// the registers. A child that still shared private pages copy-on-write
// with its parent at checkpoint time is cloned from the parent once the
// parent's memory is back, and shares them again (cowshare.go); one that
// shared its descriptor table or fs struct is cloned with CLONE_FILES or
// CLONE_FS (sharedtables.go). A lazy restore (RestartOptions.Lazy, lazy.go) runs the
// process first and serves its anonymous pages through a userfaultfd,
// each segment verified before any of its pages is copied in.
//
// Invariants:
//   - an image is one ELF core file per process (gdb opens it); it is
//     written under a temporary name, fsynced and renamed: a crash never
//     leaves a partial image under the real name nor destroys an old one;
//   - an image of another format version, or needing CPU features this
//     machine lacks, is refused unless forced;
//   - an image is untrusted input with one reader (decodeImage): anything
//     it would not have written (a second note, unknown fields, headers
//     that disagree with the metadata, counts beyond bounds) is corrupt;
//     its checksums (CRC-32C, and HMACs with a key) are verified as it is
//     read, the memory's from the bytes that went into the process (or,
//     lazily, from the buffer copied in), so a file changed meanwhile is
//     refused, never restored torn;
//   - a restore is all or nothing: on any error (a checksum mismatch
//     included) every process of the tree created so far is killed before
//     Restart returns;
//   - restored for an Owner, an image that is not authentic gets no more
//     than the owner has: its credentials, limits and priority, files
//     opened as the owner;
//   - all ptrace requests for a tracee come from the one OS thread that
//     attached it (see tracer).
//
// The package depends on nothing else of Lazarus and logs nothing unless
// given a logger.
package ckpt
