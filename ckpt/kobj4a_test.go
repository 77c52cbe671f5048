package ckpt

import "testing"

// kobj4aCases are a fourth round of the kernel-object suite, on files,
// IPC and sockets: each program of testdata/kobj4a_NAME.c sets up one
// object, and checks it exactly after the checkpoint (which must not
// disturb it) and after the restart, or the checkpoint refuses it naming
// it.
var kobj4aCases = []kobjCase{
	{name: "lockwait"},
	{name: "ofdwait", flags: []string{"-pthread"}},
	{name: "lockschild"},
	{name: "appenddirect"},
	{name: "fdhigh"},
	{name: "shmopen", flags: []string{"-lrt"}},
	{name: "memfdfuture"},
	{name: "memfdfuture", args: []string{"writable"}, refuse: "is writable under F_SEAL_FUTURE_WRITE"},
	{name: "inotifyflags"},
	{name: "inotifyqueued", refuse: "inotify has 64 bytes of events not read yet"},
	{name: "pipeduplex"},
	{name: "teesplice"},
	{name: "fifotwo"},
	{name: "epollexcl"},
	{name: "eventfdwait"},
	{name: "timerfdalarm"},
	{name: "unixseqlisten"},
	{name: "unixseqlisten", args: []string{"data"}, refuse: "bytes queued, which cannot be read before it is accepted"},
	{name: "unixshut"},
	{name: "unixdgramsrc"},
	{name: "streamcred"},
	{name: "streamcred", args: []string{"exited"}, refuse: "carries the credentials (SCM_CREDENTIALS) of pid "},
	{name: "scmsock"},
	{name: "scmsock", args: []string{"lone"}, refuse: "descriptor anon_inode:[eventfd] in flight in it is held by no process of the tree"},
	{name: "unixunlinked"},
	{name: "tcpopts"},
	{name: "udpopts"},
	{name: "udp6opts"},
	{name: "tcpserverclose"},
	{name: "inettimeo"},
	{name: "tcpurg", refuse: "urgent data (MSG_OOB) not read yet"},
	{name: "leaseread"},
	{name: "mapbeyond", refuse: "reaches past the end of its file (4196 bytes)"},
	{name: "netlink", refuse: "is socket (netlink raw, protocol 0: not checkpointable)"},
	{name: "packet", refuse: "is socket (packet datagram, protocol 0: not checkpointable)"},
	{name: "packet", args: []string{"raw"}, refuse: "is socket (IPv4 raw, protocol 1: not checkpointable)"},
	{name: "tcphalf", refuse: "in state FIN_WAIT2: not checkpointable"},
	{name: "ptyqueue"},
	{name: "sockasync"},
	{name: "rmdir", refuse: "unlinked directory"},
	{name: "sysvwait"},
}

// TestKobj4a runs each program as TestKobj does: the checkpoint leaves
// it running and unchanged, and the restart gives back its object
// exactly, or the checkpoint is refused naming the object.
func TestKobj4a(t *testing.T) {
	needRoot(t)
	runKobjCases(t, "kobj4a_", kobj4aCases)
}
