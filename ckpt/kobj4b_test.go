package ckpt

import "testing"

// kobj4bCases are the fourth round of the kernel-object suite, its
// process, signal, timer, memory and security side: each program of
// testdata/kobj4b_NAME.c sets up one object and checks it exactly after
// the checkpoint (the job runs on unharmed) and after the restart.
var kobj4bCases = []kobjCase{
	{name: "avx512", flags: []string{"-mavx512f"}},
	{name: "x87stack"},
	{name: "mseal"},
	{name: "guard"},
	{name: "timergap", flags: []string{"-lrt"}},
	{name: "sleeprem", flags: []string{"-pthread"}},
	{name: "stopsig"},
	{name: "sigqmany"},
	{name: "seccomptrap"},
	{name: "resids"},
	{name: "landlock", refuse: "is confined by a landlock ruleset"},
	{name: "landlock", args: []string{"user"}, refuse: "is confined by a landlock ruleset"},
	{name: "landlock", args: []string{"pidns"}, refuse: "is confined by a landlock ruleset"},
	{name: "landlock", args: []string{"userns"}, refuse: "is confined by a landlock ruleset"},
	{name: "landlock", args: []string{"usernsnobody"}, refuse: "is confined by a landlock ruleset"},
	{name: "schedthreads", flags: []string{"-pthread"}},
	{name: "pimutex", flags: []string{"-pthread"}},
	{name: "futexwaitv", flags: []string{"-pthread"}},
	{name: "mmargs"},
	{name: "manythreads", flags: []string{"-pthread"}},
	{name: "forkadvice"},
	{name: "mempolicy", flags: []string{"-pthread"}},
	{name: "procattrs"},
	{name: "exitsig"},
	{name: "status", flags: []string{"-pthread"}},
	{name: "joinblocked", flags: []string{"-pthread"}},
	{name: "nocldwait"},
	{name: "vdso"},
	{name: "capchild"},
	{name: "sigwaitthread", flags: []string{"-pthread"}},
	{name: "alarmpend"},
	{name: "oddprot"},
	{name: "bigsparse"},
	{name: "pdeathchild"},
	{name: "seccompnotif", refuse: "seccomp notify is not checkpointable"},
	{name: "stopthreads", flags: []string{"-pthread"}},
	{name: "robustpi", flags: []string{"-pthread"}},
	{name: "rseqown"},
	{name: "oddcomm", flags: []string{"-pthread"}},
	{name: "sigtable"},
	{name: "pidnschild"},
	{name: "pidnsmade", args: []string{"clone"}, flags: []string{"-pthread"}},
	{name: "pidnsmade", args: []string{"unshared"}, flags: []string{"-pthread"}},
	{name: "pidnsmade", args: []string{"nested"}, flags: []string{"-pthread"}},
	{name: "pidnsmade", args: []string{"mountproc"}, flags: []string{"-pthread"}},
	{name: "pidnsmade", args: []string{"zombie"}, flags: []string{"-pthread"}},
	{name: "pidnsmade", args: []string{"deadns"}, flags: []string{"-pthread"}, refuse: "whose init has exited"},
	{name: "secretmem", refuse: "a memfd_secret area"},
	{name: "secretmem", args: []string{"mapped"}, refuse: "a memfd_secret area"},
}

// TestKobj4b runs each program as TestKobj does.
func TestKobj4b(t *testing.T) {
	needRoot(t)
	runKobjCases(t, "kobj4b_", kobj4bCases)
}
