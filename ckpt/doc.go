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
// brk). The memory is copied into a buffer so the target runs again before
// the image is written.
//
// Restart execs the original executable as a stopped stub, clones the
// process out of it with its old PID (clone3 set_tid, CLONE_PARENT so the
// caller is its parent), and rebuilds it by injected system calls: unmap
// everything, map and fill every region, put the vDSO back, set the mm
// fields with PR_SET_MM_MAP, reopen files, restore signals, limits,
// timers, rseq and credentials, then the registers.
//
// Invariants:
//   - an image is one ELF core file per process (gdb opens it); it is
//     written under a temporary name, fsynced and renamed: a crash never
//     leaves a partial image under the real name nor destroys an old one;
//   - an image of another format version, or needing CPU features this
//     machine lacks, is refused unless forced;
//   - a restore is all or nothing: on any error the half-built process is
//     killed before Restart returns;
//   - all ptrace requests for a tracee come from the one OS thread that
//     attached it (see tracer).
//
// The package depends on nothing else of Lazarus and logs nothing unless
// given a logger.
package ckpt
