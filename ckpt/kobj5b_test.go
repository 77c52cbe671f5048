package ckpt

import (
	"strings"
	"testing"
)

// kobj5bCases are the fifth round of the kernel-object suite, its
// process, thread, signal, timer, memory and credential side: each
// program of testdata/kobj5b_NAME.c sets up one object and checks the
// object itself after the checkpoint (the job runs on unharmed) and after
// the restart.
var kobj5bCases = []kobjCase{
	{name: "thrcreds", flags: []string{"-pthread"}},
	{name: "thrgroups", flags: []string{"-pthread"}},
	{name: "thrpersona", flags: []string{"-pthread"}},
	{name: "thrsec", flags: []string{"-pthread"}},
	{name: "thrmce", flags: []string{"-pthread"}},
	{name: "thrpend", flags: []string{"-pthread"}},
	{name: "sigqchild"},
	{name: "sigstd"},
	{name: "resethand"},
	{name: "sigorder", flags: []string{"-lrt"}},
	{name: "timerdead", flags: []string{"-pthread", "-lrt"}, refuse: "is aimed (SIGEV_THREAD_ID) at thread"},
	{name: "thrcpuclock", flags: []string{"-pthread", "-lrt"}},
	{name: "childclock", flags: []string{"-lrt"}},
	{name: "timerstable", flags: []string{"-pthread", "-lrt"}},
	{name: "overpre", flags: []string{"-lrt"}},
	{name: "itimerfire"},
	{name: "rlimitcpu"},
	{name: "auxv"},
	{name: "vmflags"},
	{name: "vmlock"},
	{name: "growsdown"},
	{name: "madvfree"},
	{name: "procstat"},
	{name: "afterfork"},
	{name: "cleartid"},
	{name: "robustmany", flags: []string{"-pthread"}},
	{name: "fsuid"},
	{name: "manygroups"},
	{name: "restorer"},
	{name: "gsthreads", flags: []string{"-pthread"}},
	{name: "dontunmap"},
	{name: "brkdown"},
}

// TestKobj5b runs each program as TestKobj does.
func TestKobj5b(t *testing.T) {
	needRoot(t)
	for _, c := range kobj5bCases {
		c.prefix = "kobj5b_"
		name := c.name
		if len(c.args) > 0 {
			name += "-" + strings.Join(c.args, "-")
		}
		t.Run(name, func(t *testing.T) { runKobj(t, c) })
	}
}
