package ckpt

// Memory protection keys (pkey_mprotect): each region carries the key
// /proc/PID/smaps shows as ProtectionKey (on a CPU with them, PKU), and
// the thread's PKRU register says what each key allows. The keys a
// process allocated (pkey_alloc) are shown nowhere, a key in use by no
// region included, so a restore could not give pkey_alloc's later
// answers back; a region mapped again gets key 0. A process with a
// region of another key is refused.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// protectionKeys returns the regions (by start) of smaps whose
// ProtectionKey is not 0.
func protectionKeys(smaps []byte) map[uint64]int {
	keys := map[uint64]int{}
	if !bytes.Contains(smaps, []byte("ProtectionKey:")) {
		return keys
	}
	var start uint64
	for _, line := range strings.Split(string(smaps), "\n") {
		if v, ok := strings.CutPrefix(line, "ProtectionKey:"); ok {
			if k, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && k != 0 {
				keys[start] = k
			}
			continue
		}
		if a, _, ok := strings.Cut(line, "-"); ok && !strings.Contains(a, " ") && !strings.Contains(a, ":") {
			if n, err := strconv.ParseUint(a, 16, 64); err == nil {
				start = n
			}
		}
	}
	return keys
}

// refuseProtectionKeys refuses d if a region of smaps has a protection
// key of its own.
func (d *dumper) refuseProtectionKeys(smaps []byte) error {
	keys := protectionKeys(smaps)
	for _, r := range d.meta.Regions {
		if k, ok := keys[r.Start]; ok {
			return &UncheckpointableError{Comm: d.comm, PID: d.pid, FD: -1, Msg: fmt.Sprintf(
				"memory %#x-%#x has protection key %d (pkey_mprotect): the keys a process allocated cannot be read back, and a restored region would have key 0", r.Start, r.End, k)}
		}
	}
	return nil
}
