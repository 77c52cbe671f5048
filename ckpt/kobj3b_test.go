package ckpt

import (
	"strings"
	"testing"
)

// kobj3bCases are a third round of the kernel-object suite: each program
// of testdata/k3_NAME.c sets one signal, timer, child, memory or socket
// attribute and checks it exactly after the checkpoint and the restart.
var kobj3bCases = []kobjCase{
	{name: "alarm"},
	{name: "rtthread", flags: []string{"-pthread"}},
	{name: "zombies"},
	{name: "waitthread", flags: []string{"-pthread"}},
	{name: "ioprio", flags: []string{"-pthread"}},
	{name: "slack", flags: []string{"-pthread"}},
	{name: "altstack"},
	{name: "brk"},
	{name: "mlockall"},
	{name: "mlockall", args: []string{"onfault"}},
	{name: "unixoob", refuse: "out-of-band byte (MSG_OOB) not read yet"},
	{name: "keyring", refuse: "has a process keyring (keyctl): keys cannot be checkpointed"},
	{name: "keyring", args: []string{"thread"}, refuse: "has a thread "},
	{name: "sigchldign"},
	{name: "dgramcred"},
	{name: "forkoffset"},
	{name: "privfile"},
	{name: "contchild", refuse: "was continued (SIGCONT) and the process has not collected that with wait(WCONTINUED) yet"},
}

// TestKobj3b runs each program as TestKobj does: the checkpoint leaves
// it running and unchanged, and the restart gives back its state exactly.
func TestKobj3b(t *testing.T) {
	needRoot(t)
	for _, c := range kobj3bCases {
		name := c.name
		if len(c.args) > 0 {
			name += "-" + strings.Join(c.args, "-")
		}
		c.prog = "k3_" + c.name
		t.Run(name, func(t *testing.T) { runKobj(t, c) })
	}
}
