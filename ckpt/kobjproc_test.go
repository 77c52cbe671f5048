package ckpt

import (
	"strings"
	"testing"
)

// kobjProcCases are the process side of the kernel-object suite: each
// program of testdata/kobj_NAME.c sets one process, memory, signal or IPC
// attribute and checks it exactly after the checkpoint and the restart.
var kobjProcCases = []kobjCase{
	{name: "robust", flags: []string{"-pthread"}},
	{name: "futexto", flags: []string{"-pthread"}},
	{name: "cputimer", flags: []string{"-lrt"}},
	{name: "overrun", flags: []string{"-pthread", "-lrt"}},
	{name: "mremap"},
	{name: "thrattr", flags: []string{"-pthread"}},
	{name: "mqunopen", flags: []string{"-lrt"}},
	{name: "procmisc", args: []string{"coredump"}},
	{name: "procmisc", args: []string{"autogroup"}},
	{name: "procmisc", args: []string{"futexhash"}},
	{name: "procmisc", args: []string{"sud"}},
	{name: "procmisc", args: []string{"sudblock"}},
	// prctlmore: 3 KSM merging, 4 machine-check kill policy, 5
	// SCHED_DEADLINE, 6 MDWE. (0 anonymous mapping names, 1 speculation
	// control and 2 PR_SET_IO_FLUSHER cannot be set on this kernel/VM:
	// CONFIG_ANON_VMA_NAME off, ENXIO, CAP_SYS_RESOURCE missing.)
	{name: "prctlmore", flags: []string{"-pthread"}, args: []string{"3"}},
	{name: "prctlmore", flags: []string{"-pthread"}, args: []string{"4"}},
	{name: "prctlmore", flags: []string{"-pthread"}, args: []string{"5"}},
	{name: "prctlmore", flags: []string{"-pthread"}, args: []string{"6"}},
	{name: "mqvalue", flags: []string{"-lrt"}},
	{name: "mqvalue", flags: []string{"-lrt"}, args: []string{"pending"}, refuse: "has an mq_notify registration for signal 12, already pending for process"},
	{name: "leaderexit", flags: []string{"-pthread"}, refuse: "its main thread has exited (pthread_exit) while 1 other thread(s) run"},
	{name: "leaderexit", flags: []string{"-pthread"}, args: []string{"child"}, refuse: "its main thread has exited (pthread_exit) while 1 other thread(s) run"},
}

// TestKobjProc runs each program as TestKobj does: the checkpoint leaves
// it running and unchanged, and the restart gives back its state exactly.
func TestKobjProc(t *testing.T) {
	needRoot(t)
	for _, c := range kobjProcCases {
		name := c.name
		if len(c.args) > 0 {
			name += "-" + strings.Join(c.args, "-")
		}
		t.Run(name, func(t *testing.T) { runKobj(t, c) })
	}
}
