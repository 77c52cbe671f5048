package ckpt

// checkNamespaces records the namespaces a process made that the engine
// makes again at restart, or refuses what it cannot: time namespaces
// (timens.go), user namespaces (userns.go), network namespaces (netns.go)
// and cgroup namespaces (cgroupns.go). (PID, mount and IPC namespaces are the job's own, see
// Namespaced, pidns.go, mountns.go; UTS ones are restored, utsns.go.)
func (d *dumper) checkNamespaces() error {
	if err := d.recordTimeNS(); err != nil {
		return err
	}
	if err := d.recordUserNS(); err != nil {
		return err
	}
	if err := d.recordNetNS(); err != nil {
		return err
	}
	return d.recordCgroupNS()
}
