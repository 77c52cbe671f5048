package ckpt

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// stopProf, with LAZARUS_STOP_PROFILE=1 in the environment, counts what a
// checkpoint or a restart spends its time on: ptrace requests, waits for a
// tracee to stop, injected calls (by name) and the stages of the freeze,
// each as a count and a total duration. Its summary is a debugging line
// of the operation's logger; off (the default) every hook is one load of
// a bool. The counters are process-wide: two checkpoints at once in one
// process mix their figures, which only a measurement cares about.
var stopProf = newProfile(os.Getenv("LAZARUS_STOP_PROFILE") == "1")

type profile struct {
	on bool
	mu sync.Mutex
	n  map[string]int
	d  map[string]time.Duration
}

func newProfile(on bool) *profile {
	return &profile{on: on, n: map[string]int{}, d: map[string]time.Duration{}}
}

// add counts one event of kind key that lasted d.
func (p *profile) add(key string, d time.Duration) {
	if !p.on {
		return
	}
	p.mu.Lock()
	p.n[key]++
	p.d[key] += d
	p.mu.Unlock()
}

// since counts one event of kind key that began at t0.
func (p *profile) since(key string, t0 time.Time) {
	if p.on {
		p.add(key, time.Since(t0))
	}
}

// start returns the time to pass to since, or the zero time when off
// (time.Now costs more than the hook itself).
func (p *profile) start() time.Time {
	if !p.on {
		return time.Time{}
	}
	return time.Now()
}

// take returns the counters as one line, largest total first, and resets
// them.
func (p *profile) take() string {
	if !p.on {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]string, 0, len(p.n))
	for k := range p.n {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return p.d[keys[i]] > p.d[keys[j]] })
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d/%.2fms", k, p.n[k], p.d[k].Seconds()*1e3)
	}
	p.n, p.d = map[string]int{}, map[string]time.Duration{}
	return strings.TrimSpace(b.String())
}

// ptraceName names a ptrace request for the profile.
func ptraceName(req int) string {
	switch req {
	case unix.PTRACE_SEIZE:
		return "pt:seize"
	case unix.PTRACE_INTERRUPT:
		return "pt:interrupt"
	case unix.PTRACE_DETACH:
		return "pt:detach"
	case unix.PTRACE_CONT:
		return "pt:cont"
	case unix.PTRACE_SINGLESTEP:
		return "pt:step"
	case unix.PTRACE_SYSCALL:
		return "pt:syscall"
	case unix.PTRACE_GETREGS:
		return "pt:getregs"
	case unix.PTRACE_SETREGS:
		return "pt:setregs"
	case unix.PTRACE_GETREGSET:
		return "pt:getregset"
	case unix.PTRACE_SETREGSET:
		return "pt:setregset"
	case unix.PTRACE_GETSIGMASK:
		return "pt:getsigmask"
	case unix.PTRACE_SETSIGMASK:
		return "pt:setsigmask"
	case unix.PTRACE_PEEKSIGINFO:
		return "pt:peeksiginfo"
	case unix.PTRACE_SETOPTIONS:
		return "pt:setoptions"
	case unix.PTRACE_GETEVENTMSG:
		return "pt:geteventmsg"
	}
	return fmt.Sprintf("pt:%d", req)
}

// stages returns a function that counts the time since its previous call
// (the first: since stages) as one event of "st:"+name.
func (p *profile) stages() func(name string) {
	if !p.on {
		return func(string) {}
	}
	t := time.Now()
	return func(name string) {
		now := time.Now()
		p.add("st:"+name, now.Sub(t))
		t = now
	}
}
