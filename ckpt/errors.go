package ckpt

import (
	"errors"
	"fmt"
)

var (
	// ErrExists: the checkpoint file exists and Force was not given.
	ErrExists = errors.New("file exists")
	// ErrMultithreaded: the engine does not checkpoint multithreaded
	// processes yet.
	ErrMultithreaded = errors.New("multithreaded processes cannot be checkpointed yet")
	// ErrNoProcess: there is no such process.
	ErrNoProcess = errors.New("no such process")
	// ErrUnsupported: a request the engine does not support yet.
	ErrUnsupported = errors.New("not supported")
	// ErrDetached: the restarted process is not the caller's child
	// (RestartOptions.Detach).
	ErrDetached = errors.New("process was restarted detached: not our child")
	// ErrBadCompress: a compression level the engine does not have
	// (CheckpointOptions.Compress).
	ErrBadCompress = errors.New("no such compression level")
	// ErrParent: an incremental image's parent is missing, damaged, or not
	// the image it was made against (incremental.go).
	ErrParent = errors.New("parent checkpoint unusable")
	// ErrWrongCopy: a copy of a file beside the image is not the one the
	// image recorded (changed, truncated, or of another checkpoint), or
	// not a regular file (copies.go).
	ErrWrongCopy = errors.New("not the copy this checkpoint made")

	// errSnapshotLost: the program unmapped, discarded or moved memory of
	// a userfaultfd snapshot before its image had it, or changed its
	// flags as the checkpoint began (uffdsnap_linux_amd64.go); Checkpoint
	// takes it again with copy-on-write twins.
	errSnapshotLost = errors.New("memory was unmapped while its image was written")
)

// UncheckpointableError reports state of a process the engine cannot save,
// such as a socket. With Force the checkpoint goes on and the descriptor is
// restored closed.
type UncheckpointableError struct {
	Comm string
	PID  int
	FD   int // -1 when the problem is not a descriptor
	Msg  string
}

func (e *UncheckpointableError) Error() string {
	// The CONVEX wording: "%s(%d) fd %d is socket".
	if e.FD >= 0 {
		if len(e.Msg) > 0 && e.Msg[0] == ':' {
			return fmt.Sprintf("%s(%d) fd %d%s", e.Comm, e.PID, e.FD, e.Msg)
		}
		return fmt.Sprintf("%s(%d) fd %d %s", e.Comm, e.PID, e.FD, e.Msg)
	}
	if len(e.Msg) > 0 && e.Msg[0] == ':' {
		return fmt.Sprintf("%s(%d)%s", e.Comm, e.PID, e.Msg)
	}
	return fmt.Sprintf("%s(%d): %s", e.Comm, e.PID, e.Msg)
}

// PIDInUseError reports that the PID a process must get back is taken.
type PIDInUseError struct {
	PID  int
	Comm string
	// Holder says what holds it when no process has that pid: "as the
	// process group of sleep(123)", "as the session of bash(99)"; "" if a
	// process has it, or nothing was found.
	Holder string
}

func (e *PIDInUseError) Error() string {
	if e.Holder != "" {
		return fmt.Sprintf("setpid: pid %d for %s in use %s", e.PID, e.Comm, e.Holder)
	}
	return fmt.Sprintf("setpid: pid %d for %s in use", e.PID, e.Comm)
}

// IPCInUseError reports that the id a SysV object must get back is taken
// (the CONVEX "pid %d for %s in use", for IPC ids).
type IPCInUseError struct {
	Kind string // shmid, semid, msqid
	ID   int
	Comm string // the root of the tree
	Key  bool   // the key, not the id, is taken
}

func (e *IPCInUseError) Error() string {
	if e.Key {
		return fmt.Sprintf("%s %d for %s: its key is in use by another object", e.Kind, e.ID, e.Comm)
	}
	return fmt.Sprintf("%s %d for %s in use", e.Kind, e.ID, e.Comm)
}

// FileChangedError reports a file that is not what was checkpointed: another
// file under its name (Replaced), or the same one changed.
type FileChangedError struct {
	Path     string
	Replaced bool
}

func (e *FileChangedError) Error() string {
	if e.Replaced {
		return e.Path + " was replaced since the checkpoint"
	}
	return e.Path + ": changed since the checkpoint"
}

// ConflictError: -d and -f name different directories.
type ConflictError struct {
	Dir, File string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("checkpoint directory %q conflicts with checkpoint file path %q", e.Dir, e.File)
}

// RestoreError reports what failed while a process was being rebuilt. The
// half-built process is gone by the time the error is returned.
type RestoreError struct {
	Comm string
	PID  int
	Err  error
}

func (e *RestoreError) Error() string { return fmt.Sprintf("%s(%d): %v", e.Comm, e.PID, e.Err) }
func (e *RestoreError) Unwrap() error { return e.Err }

// ErrNotOwner: the image asks for more than the restore's Owner has.
var ErrNotOwner = errors.New("not the owner's")

// OwnerError reports what of an image the owner rules refuse (see Owner).
// It matches ErrNotOwner.
type OwnerError struct {
	Path string
	Comm string
	PID  int
	UID  int // the owner's
	Msg  string
}

func (e *OwnerError) Error() string {
	return fmt.Sprintf("%s: %s(%d): not restored for uid %d: %s", e.Path, e.Comm, e.PID, e.UID, e.Msg)
}
func (e *OwnerError) Unwrap() error { return ErrNotOwner }

// StopTimeoutError reports a traced task that neither stopped nor ended
// within the engine's bound on every wait. The engine lets the tree go
// before it returns it.
type StopTimeoutError struct {
	PID int
}

func (e *StopTimeoutError) Error() string {
	return fmt.Sprintf("pid %d did not stop within %v", e.PID, stopWaitLimit)
}

// racedError: the program changed its memory's mappings or flags between
// what the checkpoint read before the freeze and the freeze itself. The
// checkpoint leaves it as it was, and Checkpoint takes it again
// (checkpointRetries).
type racedError struct{ err error }

func (e *racedError) Error() string { return e.err.Error() }
func (e *racedError) Unwrap() error { return e.err }

// raced wraps the error of such a change.
func raced(format string, a ...any) error {
	return &racedError{fmt.Errorf(format, a...)}
}
