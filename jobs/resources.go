package jobs

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Resources is what a job asks for (qsub -l). Zero Mem or Walltime means no
// request, hence no limit.
type Resources struct {
	NCPUs    int
	Mem      int64 // bytes
	Walltime time.Duration
	// Beyond what the scheduler counts (pbsresources.go):
	CPUTime    time.Duration // cput: CPU time of the whole tree; 0: no limit
	MPIProcs   int           // mpiprocs of the select chunk; 0: not given
	OMPThreads int           // ompthreads of the select chunk; 0: not given
	// Net is the job's network: NetPrivate (a network namespace of its
	// own with loopback only, made again at each restart), NetHost (the
	// host's, asked for), or "" (the queue's net_default, else the host's).
	Net string
	// Chunks: Select is the select of a job of several chunks (canonical,
	// ChunkSpec.String joined by "+"; "": one chunk, of NCPUs and Mem),
	// NCPUs and Mem are then the totals of its chunks, MPIProcs and
	// OMPThreads those of its first; Chunks is their number (0: one).
	// Place is place= ("": free).
	Select string
	Chunks int
	Place  string
}

// NetHost is the net resource of a job that asked for the host's network.
const NetHost = "host"

// NetPrivate is the net resource of a job in a network namespace of its
// own (qsub -l net=private).
const NetPrivate = "private"

// ResourceNames lists the resources the scheduler counts (AllResourceNames:
// every one qsub -l takes).
var ResourceNames = []string{"ncpus", "mem", "walltime"}

// ParseResources applies a qsub -l list ("ncpus=2,mem=4gb,walltime=1:00:00")
// to r; later entries win, as with repeated -l options.
func ParseResources(r Resources, list string) (Resources, error) {
	for _, item := range strings.Split(list, ",") {
		if item == "" {
			continue
		}
		name, val, ok := strings.Cut(item, "=")
		if !ok || val == "" {
			return r, fmt.Errorf("%q: %w (want NAME=VALUE)", item, ErrBadResource)
		}
		switch name {
		case "ncpus":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 1<<20 {
				return r, fmt.Errorf("ncpus=%s: %w (want a whole number of CPUs, at least 1)", val, ErrBadResource)
			}
			r.NCPUs = n
		case "mem":
			n, err := ParseSize(val)
			if err != nil {
				return r, fmt.Errorf("mem=%s: %w", val, err)
			}
			if n == 0 {
				return r, fmt.Errorf("mem=%s: %w (must be more than 0)", val, ErrBadResource)
			}
			r.Mem = n
		case "walltime":
			d, err := ParseWalltime(val)
			if err != nil {
				return r, fmt.Errorf("walltime=%s: %w", val, err)
			}
			if d == 0 {
				return r, fmt.Errorf("walltime=%s: %w (must be more than 0)", val, ErrBadResource)
			}
			r.Walltime = d
		default:
			var err error
			if r, err = parsePBSResource(r, name, val); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// String formats r the way qsub -l takes it; zero values are left out.
func (r Resources) String() string {
	parts := []string{"ncpus=" + strconv.Itoa(r.NCPUs)}
	if r.Mem > 0 {
		parts = append(parts, "mem="+FormatSize(r.Mem))
	}
	if r.Walltime > 0 {
		parts = append(parts, "walltime="+FormatDuration(r.Walltime))
	}
	parts = append(parts, r.pbsStrings()...)
	return strings.Join(parts, ",")
}

var sizeUnits = []struct {
	suffix string
	shift  uint
}{
	{"tb", 40}, {"gb", 30}, {"mb", 20}, {"kb", 10},
	{"t", 40}, {"g", 30}, {"m", 20}, {"k", 10},
	{"tib", 40}, {"gib", 30}, {"mib", 20}, {"kib", 10},
	{"b", 0}, {"", 0},
}

// ParseSize parses a memory size: a whole number with an optional unit
// b, kb, mb, gb, tb (also k, m, g, t, or kib, mib, gib, tib), case
// insensitive. Units are powers of 1024, as in PBS.
func ParseSize(s string) (int64, error) {
	low := strings.ToLower(strings.TrimSpace(s))
	digits := strings.TrimRight(low, "abcdefghijklmnopqrstuvwxyz")
	unit := low[len(digits):]
	for _, u := range sizeUnits {
		if u.suffix != unit {
			continue
		}
		n, err := strconv.ParseUint(digits, 10, 63)
		if err != nil || n > math.MaxInt64>>u.shift {
			break
		}
		return int64(n << u.shift), nil
	}
	return 0, fmt.Errorf("%q: %w (want a size such as 512mb or 4gb)", s, ErrBadResource)
}

// FormatSize formats a byte count with the largest unit that divides it.
func FormatSize(n int64) string {
	for _, u := range []struct {
		s     string
		shift uint
	}{{"tb", 40}, {"gb", 30}, {"mb", 20}, {"kb", 10}} {
		if n > 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10) + "b"
}

// MaxWalltime is the largest walltime ParseWalltime accepts: a million
// hours (about 114 years), well inside what a time.Duration holds, so that
// no request wraps around to a negative (unlimited) duration.
const MaxWalltime = 1_000_000 * time.Hour

// ParseWalltime parses [[HH:]MM:]SS (PBS syntax); minutes and seconds are
// below 60 when a larger field is given, and the whole is at most
// MaxWalltime.
func ParseWalltime(s string) (time.Duration, error) {
	fields := strings.Split(s, ":")
	if len(fields) > 3 || s == "" {
		return 0, fmt.Errorf("%q: %w (want HH:MM:SS)", s, ErrBadResource)
	}
	const most = int64(MaxWalltime / time.Second)
	var total int64 // seconds
	for i, f := range fields {
		n, err := strconv.ParseUint(f, 10, 63)
		if errors.Is(err, strconv.ErrRange) || err == nil && n > uint64(most) {
			return 0, fmt.Errorf("%q: %w (at most %s)", s, ErrBadResource, FormatDuration(MaxWalltime))
		}
		if err != nil || f == "" || (i > 0 && n >= 60) {
			return 0, fmt.Errorf("%q: %w (want HH:MM:SS)", s, ErrBadResource)
		}
		// total*60 + n stays below most, checked before it is computed.
		if total > (most-int64(n))/60 {
			return 0, fmt.Errorf("%q: %w (at most %s)", s, ErrBadResource, FormatDuration(MaxWalltime))
		}
		total = total*60 + int64(n)
	}
	return time.Duration(total) * time.Second, nil
}

// FormatDuration formats d as HH:MM:SS (hours may exceed 99), rounding
// down to the second.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}
