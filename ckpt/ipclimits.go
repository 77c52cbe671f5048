package ckpt

import (
	"fmt"
	"os"
	"strings"
)

// The limits of an IPC namespace (the ipc sysctls: SysV sizes and counts,
// POSIX message queue sizes) belong to it, not to a process. A tree in a
// namespace of its own gets a fresh one at restart, with the kernel's
// defaults: its limits are saved with the SysV objects (sysvIPC.Limits)
// and set again in the new namespace before any object is made, so a
// queue made with a size above the default, and a program that reads or
// relies on its limits, find them as they were.

// ipcSysctls are the ipc sysctls saved, under /proc/sys.
var ipcSysctls = []string{
	"kernel/msgmax", "kernel/msgmnb", "kernel/msgmni", "kernel/shmmax", "kernel/shmall", "kernel/shmmni",
	"kernel/sem", "kernel/shm_rmid_forced",
	"fs/mqueue/msg_max", "fs/mqueue/msgsize_max", "fs/mqueue/queues_max", "fs/mqueue/msg_default", "fs/mqueue/msgsize_default",
}

// readIPCLimits reads the limits of the calling thread's IPC namespace.
func readIPCLimits() map[string]string {
	out := map[string]string{}
	for _, k := range ipcSysctls {
		if b, err := os.ReadFile("/proc/sys/" + k); err == nil {
			out[k] = strings.Join(strings.Fields(string(b)), " ")
		}
	}
	return out
}

// checkIPCLimits checks the limits of an image: known names, numbers.
func checkIPCLimits(l map[string]string) error {
	for k, v := range l {
		known := false
		for _, s := range ipcSysctls {
			known = known || s == k
		}
		if !known || len(v) > 128 || strings.Trim(v, "0123456789 -") != "" {
			return fmt.Errorf("%w: IPC namespace limit %q = %q", ErrCorrupt, k, v)
		}
	}
	return nil
}

// setIPCLimits sets the saved limits in the calling thread's (new)
// namespace; one that cannot be set is warned of.
func (r *restorer) setIPCLimits(l map[string]string) {
	now := readIPCLimits()
	for _, k := range ipcSysctls {
		v, ok := l[k]
		if !ok || now[k] == v {
			continue
		}
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0); err != nil {
			r.warn("%s(%d): IPC namespace limit %s = %s not restored (%s kept): %v", r.root.comm(), r.root.meta.PID, k, v, now[k], err)
		}
	}
}
