package ckpt

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Namespaces the engine does not make again. A process in a user
// namespace other than the checkpointer's would come back in the
// restart's: its ids and capabilities would differ. It is refused at
// checkpoint time. (PID, mount and IPC namespaces are the job's own, see
// Namespaced, pidns.go, mountns.go; network ones are the batch job's, made
// by its supervisor; UTS ones are restored, utsns.go; time ones, timens.go.)
var refusedNS = []struct{ file, what string }{
	{"user", "a user namespace of its own"},
}

// checkNamespaces refuses pid if it is in a namespace of refusedNS that
// is not the checkpointer's.
func (d *dumper) checkNamespaces() error {
	if err := d.recordTimeNS(); err != nil { // timens.go
		return err
	}
	for _, ns := range refusedNS {
		var st, self unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", d.pid, ns.file), &st) != nil || unix.Stat("/proc/thread-self/ns/"+ns.file, &self) != nil {
			continue // no such namespace in this kernel
		}
		if st.Ino != self.Ino || st.Dev != self.Dev {
			if err := d.uncheckpointable(-1, fmt.Sprintf(": %s (%s:[%d]) is not checkpointable: the restart would not make it", ns.what, ns.file, st.Ino)); err != nil {
				return err
			}
		}
	}
	return nil
}
