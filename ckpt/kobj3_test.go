package ckpt

import "testing"

// kobj3Cases are the third round of the kernel-object suite: each program
// of testdata/kobj3_NAME.c sets up one signal, timer, thread-wait, process
// group, descriptor or memory object and checks it exactly after the
// checkpoint (the job runs on unharmed) and after the restart.
var kobj3Cases = []kobjCase{
	{name: "hugepage"},
	{name: "rtthread", flags: []string{"-pthread"}},
	{name: "subreaper"},
	{name: "zombie"},
	{name: "waitthread", flags: []string{"-pthread"}},
	{name: "condvar", flags: []string{"-pthread"}},
	{name: "absleep", flags: []string{"-pthread"}},
	{name: "mlock"},
	{name: "mlock", args: []string{"future"}},
	{name: "forkoffset"},
	{name: "fifordwr"},
	{name: "scmrights"},
	{name: "mapfile"},
	{name: "memfdmap"},
	{name: "nofilehard"},
	{name: "nofilehard", args: []string{"above"}},
	{name: "pgrporphan", refuse: "its process group"},
	{name: "sarestart", flags: []string{"-pthread"}},
	{name: "dgrampair"},
	{name: "pipefull"},
	{name: "brk"},
	{name: "timerslack", flags: []string{"-pthread"}},
	{name: "altinuse"},
	{name: "sigignpend"},
	{name: "pipewrite", flags: []string{"-pthread"}},
	{name: "futexfork"},
}

// TestKobj3 runs each program as TestKobj does.
func TestKobj3(t *testing.T) {
	needRoot(t)
	runKobjCases(t, "kobj3_", kobj3Cases)
}
