package ckpt

// rearmed is a tracker re-armed before the freeze (preRearm): what
// trackDirty takes of it in the freeze.
type rearmed struct {
	fd    int    // where the tracker was moved (the witness)
	ino   uint64 // its inode
	start uint64 // the process's start time
	// written: the pages written since the parent checkpoint, protected
	// again before the freeze; lost: ranges whose scan failed midway
	// (some of their written pages may be protected again, unrecorded):
	// saved whole.
	written [][2]uint64
	lost    [][2]uint64
	// err: nothing of it can be trusted (why).
	err string
}
