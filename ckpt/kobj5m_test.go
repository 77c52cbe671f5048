package ckpt

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// kobj5mCases: multicast memberships of UDP sockets (mcast.go), each
// program of testdata/kobj5m_NAME.c checking its memberships, filters and
// options exactly and that datagrams arrive (or not) as they did.
var kobj5mCases = []kobjCase{
	{name: "groups"},
	{name: "groups", args: []string{"8"}},
	{name: "filters"},
	{name: "ipv6"},
	{name: "loop"},
	// mc0 made again: its new index is found by its name.
	{name: "loop", args: []string{"renumbered"}, beforeRestart: func(t *testing.T) {
		before := ifIndexOf(t, "mc0")
		kobj5mVeth(t, true)
		if after := ifIndexOf(t, "mc0"); after == before {
			t.Fatalf("mc0 made again has index %d, as before", after)
		}
	}},
	// mc0 gone: the restart fails naming it, rather than the program
	// silently receiving nothing.
	{name: "loop", args: []string{"gone"}, beforeRestart: func(t *testing.T) {
		kobj5mIP(t, "link", "del", "mc0")
		t.Cleanup(func() { kobj5mVeth(t, false) })
	}, restartRefuse: "multicast group 239.4.4.4 on mc0 (index "},
}

// kobj5mNetEnv marks the test binary that runs the cases inside a network
// namespace of its own (the test's interfaces are not the machine's).
const kobj5mNetEnv = "LAZARUS_KOBJ5M_NETNS"

// TestKobj5m runs the kobj5m programs as TestKobj does, in a network
// namespace made for the test: the test binary runs itself again there.
func TestKobj5m(t *testing.T) {
	needRoot(t)
	if os.Getenv(kobj5mNetEnv) == "" {
		runInNetns(t, "TestKobj5m")
		return
	}
	kobj5mNet(t)
	runKobjCases(t, "kobj5m_", kobj5mCases)
}

// runInNetns runs test of this binary again in a new network namespace,
// with the -run pattern given to us, and fails with its output if it fails.
func runInNetns(t *testing.T, test string) {
	t.Helper()
	// Only test runs there; a subtest pattern given for it (-run
	// TestX/sub) is kept.
	run := "^" + test + "$"
	if f := flag.Lookup("test.run"); f != nil {
		first, rest, ok := strings.Cut(f.Value.String(), "/")
		if re, err := regexp.Compile(first); ok && err == nil && re.MatchString(test) {
			run += "/" + rest
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1", "-test.v", "-test.timeout=15m")
	cmd.Env = append(os.Environ(), kobj5mNetEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in a network namespace of its own: %v\n%s", test, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s in a network namespace of its own did not run:\n%s", test, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "--- ") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

// kobj5mNet sets up the namespace: lo up, and the veth pair mc0
// (10.77.0.1/24) - mc1 (10.77.0.2/24), without duplicate address
// detection so that their IPv6 link-local addresses are usable at once.
func kobj5mNet(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("the multicast tests make their interfaces with ip(8) (iproute2): %v", err)
	}
	for _, f := range []string{"/proc/sys/net/ipv6/conf/default/accept_dad", "/proc/sys/net/ipv6/conf/all/accept_dad"} {
		if err := os.WriteFile(f, []byte("0"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kobj5mIP(t, "link", "set", "lo", "up")
	kobj5mVeth(t, false)
}

// kobj5mVeth makes the veth pair (again, after removing it, when again).
func kobj5mVeth(t *testing.T, again bool) {
	t.Helper()
	if again {
		kobj5mIP(t, "link", "del", "mc0")
	}
	kobj5mIP(t, "link", "add", "mc0", "type", "veth", "peer", "name", "mc1")
	kobj5mIP(t, "addr", "add", "10.77.0.1/24", "dev", "mc0")
	kobj5mIP(t, "addr", "add", "10.77.0.2/24", "dev", "mc1")
	kobj5mIP(t, "link", "set", "mc0", "up")
	kobj5mIP(t, "link", "set", "mc1", "up")
	// An IPv6 sender needs mc0's link-local address.
	waitFor(t, "the IPv6 address of mc0", func() bool {
		b, _ := os.ReadFile("/proc/net/if_inet6")
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 6 && f[5] == "mc0" && strings.HasPrefix(f[0], "fe80") {
				return true
			}
		}
		return false
	})
}

func kobj5mIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func ifIndexOf(t *testing.T, name string) int {
	t.Helper()
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	idx, err := ifIndex(s, name)
	if err != nil {
		t.Fatalf("interface %s: %v", name, err)
	}
	return idx
}

// TestMcastProbeCost: what reading a UDP socket's memberships adds to a
// checkpoint, with no group and with 8 (logged: the machines are shared,
// nothing is asserted of time), and that the probe finds exactly the
// groups joined. It runs on a thread of its own in a new network
// namespace, reading the groups of that thread's namespace.
func TestMcastProbeCost(t *testing.T) {
	needRoot(t)
	for _, n := range []int{0, 8} {
		t.Run(fmt.Sprintf("groups=%d", n), func(t *testing.T) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				// The thread leaves with its goroutine, never back to the
				// scheduler in the other namespace.
				runtime.LockOSThread()
				if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
					t.Error(err)
					return
				}
				mcastCost(t, n)
			}()
			<-done
		})
	}
}

func mcastCost(t *testing.T, n int) {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer unix.Close(s)
	ifr, _ := unix.NewIfreq("lo")
	if err = unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err == nil {
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		err = unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr)
	}
	if err != nil {
		t.Error(err)
		return
	}
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		g := netip.AddrFrom4([4]byte{239, 9, 0, byte(i + 1)})
		want[g.String()] = true
		if err := joinGroup(s, mcastGroup{Iface: "lo", Group: g.String(), Mode: mcastExclude}); err != nil {
			t.Error(err)
			return
		}
	}
	d := &dumper{pid: unix.Gettid()}
	is := &inetSock{Family: unix.AF_INET, Type: unix.SOCK_DGRAM, Local: "0.0.0.0:0"}
	const rounds = 200
	start := time.Now()
	for i := 0; i < rounds; i++ {
		d.mcast, is.Mcast = nil, nil
		if refuse := d.describeMcast(s, is); refuse != "" {
			t.Error(refuse)
			return
		}
	}
	per := time.Since(start) / rounds
	got := map[string]bool{}
	if is.Mcast != nil {
		for _, m := range is.Mcast.Groups {
			got[m.Group] = m.Iface == "lo" && m.Mode == mcastExclude && len(m.Sources) == 0
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("memberships found %v, want %v (each on lo, any source)", got, want)
	}
	t.Logf("1 UDP socket, %d groups: %v per socket description (the namespace's groups read and probed)", n, per)
}
