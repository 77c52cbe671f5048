package ckpt

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
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
	{name: "overthread", flags: []string{"-pthread", "-lrt"}},
	{name: "timerstale", flags: []string{"-lrt"}},
	{name: "timerign", flags: []string{"-lrt"}},
	{name: "absclocks", flags: []string{"-pthread"}},
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
	runKobjCases(t, "kobj5b_", kobj5bCases)
}

// TestKobj5bPkeys runs kobj5b_pkeys where the machine has protection
// keys (the checkpoint must refuse its keyed region) and, where it has
// none, checks that the program finds none either: it must not pass on
// a machine whose keys it failed to use.
func TestKobj5bPkeys(t *testing.T) {
	needRoot(t)
	cpu, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	if hasPKU := regexp.MustCompile(`(?m)^flags\s*:.*\bpku\b`).Match(cpu); hasPKU {
		runKobj(t, kobjCase{name: "pkeys", prefix: "kobj5b_", refuse: "has protection key"})
		return
	}
	prog := cprog(t, "kobj5b_pkeys")
	dir := t.TempDir()
	out := filepath.Join(dir, "result")
	cmd := start(t, dir, prog, out)
	werr := cmd.Wait()
	b, _ := os.ReadFile(out + ".ready")
	if werr == nil || !strings.Contains(string(b), "no protection keys") {
		t.Fatalf("no pku in /proc/cpuinfo, yet the program says %v: %q", werr, b)
	}
	t.Logf("this machine has no protection keys (%s): only the refusal's parser is tested (TestProtectionKeys)", strings.TrimSpace(string(b)))
}

// TestProtectionKeys: the regions of smaps with a key of their own.
func TestProtectionKeys(t *testing.T) {
	smaps := "7f0000000000-7f0000004000 rw-p 00000000 00:00 0 \nRss:                   4 kB\nProtectionKey:         0\nVmFlags: rd wr mr mw me ac \n" +
		"7f0000004000-7f0000008000 rw-p 00000000 00:00 0 \nProtectionKey:         3\nVmFlags: rd wr mr mw me ac \n" +
		"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\nProtectionKey:        15\n"
	got := protectionKeys([]byte(smaps))
	want := map[uint64]int{0x7f0000004000: 3, 0x7ffd00000000: 15}
	if len(got) != len(want) || got[0x7f0000004000] != 3 || got[0x7ffd00000000] != 15 {
		t.Errorf("protectionKeys: %v, want %v", got, want)
	}
	if got := protectionKeys([]byte("7f0000000000-7f0000004000 rw-p 00000000 00:00 0 \nVmFlags: rd wr\n")); len(got) != 0 {
		t.Errorf("protectionKeys without keys: %v", got)
	}
}

// TestCheckThreadCreds: a thread's own credentials are bounded as the
// process's, and held to the owner rules (checkOwner).
func TestCheckThreadCreds(t *testing.T) {
	own := creds{UID: [4]int{1001, 1001, 1001, 1001}, GID: [4]int{100, 100, 100, 100}}
	m := &imageMeta{Creds: creds{UID: [4]int{1000, 1000, 1000, 1000}}, Threads: []thread{{TID: 1}, {TID: 2, Creds: &own}}}
	var seen []creds
	if err := checkThreadCreds(m, func(c creds) error { seen = append(seen, c); return nil }); err != nil || len(seen) != 1 || seen[0].UID != own.UID {
		t.Errorf("checkThreadCreds: %v, owner asked of %v", err, seen)
	}
	if got := m.threadCreds(1); got.UID != own.UID {
		t.Errorf("threadCreds(1): %v, want %v", got.UID, own.UID)
	}
	if got := m.threadCreds(0); got.UID != m.Creds.UID {
		t.Errorf("threadCreds(0): %v, want the process's %v", got.UID, m.Creds.UID)
	}
	refused := errors.New("refused")
	if err := checkThreadCreds(m, func(creds) error { return refused }); !errors.Is(err, refused) {
		t.Errorf("checkThreadCreds with a refusing owner: %v", err)
	}
	many := creds{Groups: make([]int, maxGroups+1)}
	m.Threads[1].Creds = &many
	if err := checkThreadCreds(m, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("checkThreadCreds of %d groups: %v, want ErrCorrupt", len(many.Groups), err)
	}
}
