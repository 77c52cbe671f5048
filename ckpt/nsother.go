package ckpt

// checkNamespaces records the namespaces a process made that the engine
// makes again at restart, or refuses what it cannot: time namespaces
// (timens.go) and user namespaces (userns.go). (PID, mount and IPC
// namespaces are the job's own, see Namespaced, pidns.go, mountns.go;
// network ones are the batch job's, made by its supervisor; UTS ones are
// restored, utsns.go.)
func (d *dumper) checkNamespaces() error {
	if err := d.recordTimeNS(); err != nil {
		return err
	}
	return d.recordUserNS()
}
