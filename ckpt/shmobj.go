package ckpt

import (
	"fmt"
	"strings"

	"unsafe"

	"golang.org/x/sys/unix"
)

// Shared memory objects come back as the objects they were, not as a
// memfd of the restorer's: MAP_SHARED|MAP_ANONYMOUS memory as a shmem file
// of the kernel's own making (maps shows "/dev/zero (deleted)", as for the
// original), a memfd under its own name, and a memfd that the tree also
// had open as a descriptor as that very open file (writes through the
// descriptor are seen in the mapping).

// newShmObject returns a descriptor of a new shared memory object of size
// bytes for region rg, and whether its content is there already (it is
// the file of a descriptor restored from its copy).
func (r *restorer) newShmObject(rg region, size int64) (fd int, filled bool, err error) {
	if fd, ok := r.shmDescriptor(rg.Shm); ok {
		// One object with the descriptor: its content is the copy's,
		// taken at the same time as the mapping's.
		return fd, true, nil
	}
	name := strings.TrimSuffix(rg.Name, " (deleted)")
	switch {
	case strings.HasPrefix(name, "/memfd:"):
		// Sealing allowed: its seals are added once it is filled
		// (sealShm); a memfd made without it has F_SEAL_SEAL.
		fd, err = unix.MemfdCreate(strings.TrimPrefix(name, "/memfd:"), unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	case name == "/dev/zero" || name == "" || strings.HasPrefix(name, "[anon_shmem:"):
		if fd, err = sharedAnonObject(size); err == nil {
			return fd, false, nil
		}
		// No /proc/self/map_files (it needs CAP_SYS_ADMIN): a memfd.
		fallthrough
	default:
		fd, err = unix.MemfdCreate("lazarus-shm", unix.MFD_CLOEXEC)
	}
	if err != nil {
		return -1, false, fmt.Errorf("shared mem tmp file create failed: %w", err)
	}
	if err := unix.Ftruncate(fd, size); err != nil {
		unix.Close(fd)
		return -1, false, fmt.Errorf("shared mem tmp file create failed: %w", err)
	}
	return fd, false, nil
}

// sharedAnonObject makes the shmem file behind a MAP_SHARED|MAP_ANONYMOUS
// mapping of size bytes (the kernel names it /dev/zero) and returns a
// descriptor of it, opened through /proc/self/map_files: the mapping of
// ours goes, the file stays with the descriptor.
func sharedAnonObject(size int64) (int, error) {
	if size <= 0 {
		return -1, unix.EINVAL
	}
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		return -1, err
	}
	defer unix.Munmap(b)
	start := uint64(uintptrOf(b))
	return unix.Open(fmt.Sprintf("/proc/self/map_files/%x-%x", start, start+uint64(size)), unix.O_RDWR|unix.O_CLOEXEC, 0)
}

// shmDescriptor returns a duplicate of the restored descriptor whose file
// is the shared memory object key (device:inode, as in maps).
func (r *restorer) shmDescriptor(key string) (int, bool) {
	for _, p := range r.procs {
		for _, f := range p.meta.Files {
			if f.File == nil || f.Kind != fdFile || f.File.Ino == 0 {
				continue
			}
			if fmt.Sprintf("%x:%x:%d", unix.Major(f.File.Dev), unix.Minor(f.File.Dev), f.File.Ino) != key {
				continue
			}
			fd, ok := r.descs[f.Desc]
			if !ok {
				continue
			}
			dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				continue
			}
			return dup, true
		}
	}
	return -1, false
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

// memfdSealMask: the seals an image may give a memfd mapping.
const memfdSealMask = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_FUTURE_WRITE | unix.F_SEAL_EXEC

// mappedSeals reads the seals of the memfd that pid maps at start-end,
// through /proc/PID/map_files: the mapping may be all that holds it.
func mappedSeals(pid int, start, end uint64) (int, error) {
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, start, end), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	return unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
}

// sealShm gives the memfd fd made for region rg, filled, the seals it had.
// F_SEAL_WRITE comes with read-only mappings only (the kernel refused
// it otherwise), which it still allows; F_SEAL_FUTURE_WRITE with no
// writable one (the checkpoint refused it).
func sealShm(fd int, rg region) error {
	if !strings.HasPrefix(rg.Name, "/memfd:") || rg.Seals == 0 {
		return nil
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, rg.Seals); err != nil {
		return fmt.Errorf("shared memory %s %s: F_ADD_SEALS %#x: %w", rg.Shm, rg.Name, rg.Seals, err)
	}
	return nil
}
