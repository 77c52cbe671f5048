package ckpt

// A region locked with mlock2(MLOCK_ONFAULT) (VmFlags lf) locks the pages
// as they fault in, and only those: its Locked count is what the program
// touched. Saved as for other anonymous memory, runs of present pages a
// few pages apart would share a segment, their gap written as zeros
// (imagewrite.go, holeMin) and faulted in, so locked, by the restore: the
// restored region would lock more than the program ever touched. Its
// runs are its present pages only.

import (
	"bytes"
	"fmt"
	"os"
	"slices"
)

// lockedOnFault reports whether the region starting at start is locked
// on fault. smaps is read once, and only when the process has locked
// memory (VmLck of its status).
func (d *dumper) lockedOnFault(start uint64) bool {
	if d.onFault == nil {
		d.onFault = map[uint64]bool{}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.pid))
		if err != nil || bytes.Contains(status, []byte("\nVmLck:\t       0 kB")) {
			return false
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", d.pid))
		if err != nil {
			return false // collectVMFlags reads it again and says why
		}
		flags, _ := parseVMFlags(data)
		for s, fl := range flags {
			if slices.Contains(fl, "lf") {
				d.onFault[s] = true
			}
		}
	}
	return d.onFault[start]
}
