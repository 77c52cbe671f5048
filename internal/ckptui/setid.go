package ckptui

import (
	"encoding/binary"
	"fmt"
	"os"
)

// atSecure is the auxiliary vector's AT_SECURE: the kernel sets it when
// the program was executed with more rights than its caller has (a
// set-user-ID or set-group-ID file, file capabilities).
const atSecure = 23

// RefuseSetID returns an error when the command runs with rights its
// caller does not have. chkpnt and restart act with the rights of the
// identity they run as: installed set-user-ID root, any user could
// checkpoint root's processes and read their memory in the image, or
// restart an image whose credentials they wrote themselves (root's) and
// get a root process. Neither command can tell what its caller may do on
// the caller's behalf, so it runs only as the caller (an administrator
// runs it as root; the batch system restarts a user's job for its owner).
func RefuseSetID(cmd string) error {
	// AT_SECURE, not the ids: a program that is itself set-user-ID may run
	// an ordinary chkpnt (the C library's chkpnt()), which inherits its
	// ids but gained nothing by its own exec. Without /proc, the ids.
	secure := os.Getuid() != os.Geteuid() || os.Getgid() != os.Getegid()
	if auxv, err := os.ReadFile("/proc/self/auxv"); err == nil {
		secure = false
		for i := 0; i+16 <= len(auxv); i += 16 {
			if binary.NativeEndian.Uint64(auxv[i:]) == atSecure {
				secure = binary.NativeEndian.Uint64(auxv[i+8:]) != 0
			}
		}
	}
	if !secure {
		return nil
	}
	return fmt.Errorf("%s runs with more rights than its caller (real uid %d gid %d, effective uid %d gid %d: a set-user-ID, set-group-ID or file-capability install): "+
		"it would act for anyone with those rights; install it mode 0755 and run it as root for other users' processes",
		cmd, os.Getuid(), os.Getgid(), os.Geteuid(), os.Getegid())
}
