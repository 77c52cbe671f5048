package ckpt

import "testing"

// kobj5aCases are a fifth round of the kernel-object suite, on files,
// file systems, IPC, pipes, terminals and sockets: each program of
// testdata/kobj5a_NAME.c sets up one object and checks it exactly after
// the checkpoint (which must not disturb it) and after the restart, or
// the checkpoint refuses it naming it.
var kobj5aCases = []kobjCase{
	{name: "tmpexcl"},
	{name: "unixmvdir"},
	{name: "pipewrite1", flags: []string{"-pthread"}},
	{name: "fifonoreader"},
	{name: "pipesz"},
	{name: "ptyflush"},
	{name: "ptyflush", args: []string{"nostop"}},
	{name: "ptystop"},
	{name: "ptyraw"},
	{name: "ctty"},
	{name: "openflags"},
	{name: "fallocunl"},
	{name: "hardlinks"},
	{name: "xattrunl"},
	{name: "dirseek"},
	{name: "flockshared"},
	{name: "ofdranges"},
	{name: "epollet"},
	{name: "sigtfdepoll"},
	{name: "inotifywd"},
	{name: "asyncsig"},
	{name: "shmrmid"},
	{name: "msgtypes"},
	{name: "abstract"},
	{name: "scmmany"},
	{name: "dgramfull"},
	{name: "sockopts5"},
	{name: "tcpcork"},
	{name: "udpconn"},
	{name: "v6only"},
	{name: "reuseport"},
	{name: "listenopts"},
	{name: "seqbounds"},
	{name: "acceptfin", refuse: "2 connections waiting to be accepted: 1 of them from clients outside of selected processes, or already closed"},
	{name: "fifoopen"},
	{name: "mapunl"},
	{name: "badname"},
}

// TestKobj5a runs each program as TestKobj does: the checkpoint leaves
// it running and unchanged, and the restart gives back its object
// exactly, or the checkpoint is refused naming the object.
func TestKobj5a(t *testing.T) {
	needRoot(t)
	runKobjCases(t, "kobj5a_", kobj5aCases)
}
