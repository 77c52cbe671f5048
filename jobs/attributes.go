package jobs

import (
	"fmt"
	"strconv"
	"strings"
)

// Attributes are the PBS job attributes that the rest of the model does
// not act on itself: recorded (-A, -P), or used when the job starts
// (-S, -k, group_list) or is scheduled (-p).
type Attributes struct {
	Account  string // -A: Account_Name, recorded for accounting
	Project  string // -P: project, recorded
	Priority int    // -p: -1024..1023; higher starts first within its queue
	// Rank is the job's place among jobs of equal priority (qorder swaps
	// two jobs' places); 0: its id.
	Rank  uint64
	Keep  string // -k: normalised keep list ("oe", "d", "n"...); "" when not given
	Shell string // -S: the interpreter that runs the script; "": by its #! line
	Group string // -W group_list: the group the job runs as (Owner.GID); "": the login group
	Slurm bool   // the script's #SBATCH directives were translated: the job gets SLURM_* too
	// MailPoints is qsub -m (ParseMailPoints; "": DefaultMailPoints);
	// MailUsers qsub -M, comma separated ("": the owner).
	MailPoints string
	MailUsers  string
	// Interactive is qsub -I: the job runs the owner's login shell on a
	// pseudo terminal that qsub (or qrestart --attach) relays.
	Interactive bool
	// Signal is sbatch --signal in its normal form (SlurmSignal.String);
	// "": none. OpenAppend is --open-mode=append: the output and error
	// files are appended to, not truncated, at each start.
	Signal     string
	OpenAppend bool
	// Args are the script's arguments ($1...): sbatch SCRIPT ARG...,
	// qsub -F "ARG...".
	Args []string
}

// PBS's bounds of qsub -p.
const (
	MinPriority = -1024
	MaxPriority = 1023
)

// ParsePriority parses qsub -p.
func ParsePriority(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
	if err != nil || n < MinPriority || n > MaxPriority {
		return 0, fmt.Errorf("-p %q: %w (want a whole number from %d to %d)", s, ErrBadAttribute, MinPriority, MaxPriority)
	}
	return n, nil
}

// ParseKeep parses qsub -k: n, or any of o, e and d (PBS's "direct":
// written straight to the final path, which is how this system always
// writes). It returns the letters in a canonical order.
func ParseKeep(s string) (string, error) {
	if s == "n" {
		return "n", nil
	}
	var o, e, d bool
	for _, r := range s {
		switch r {
		case 'o':
			o = true
		case 'e':
			e = true
		case 'd':
			d = true
		default:
			return "", fmt.Errorf("-k %q: %w (want n, or letters of o, e and d)", s, ErrBadAttribute)
		}
	}
	if s == "" {
		return "", fmt.Errorf("-k %q: %w (want n, or letters of o, e and d)", s, ErrBadAttribute)
	}
	out := ""
	for _, l := range []struct {
		on bool
		s  string
	}{{o, "o"}, {e, "e"}, {d, "d"}} {
		if l.on {
			out += l.s
		}
	}
	return out, nil
}

// KeepsInHome reports whether -k keeps the stream ("o" or "e") in the
// owner's home directory under its default name, as PBS does for a kept
// stream that is not written directly ("d") to its final path.
func KeepsInHome(keep, stream string) bool {
	return strings.Contains(keep, stream) && !strings.Contains(keep, "d")
}

// PickForHost picks from a PBS host list ("name[@host][,name@host...]",
// as -S, -u and -W group_list take it) the entry for host, else the one
// without a host.
func PickForHost(list, host string) (string, error) {
	plain, forHost := "", ""
	for _, item := range strings.Split(list, ",") {
		name, h, hasHost := strings.Cut(item, "@")
		switch {
		case name == "":
			return "", fmt.Errorf("%q: %w (empty name)", list, ErrBadAttribute)
		case hasHost && shortHost(h) == shortHost(host):
			forHost = name
		case !hasHost:
			if plain != "" {
				return "", fmt.Errorf("%q: %w (only one name may be given without a host)", list, ErrBadAttribute)
			}
			plain = name
		}
	}
	if forHost != "" {
		return forHost, nil
	}
	if plain == "" {
		return "", fmt.Errorf("%q: %w (no entry for this host, %s)", list, ErrBadAttribute, host)
	}
	return plain, nil
}

func shortHost(h string) string {
	short, _, _ := strings.Cut(h, ".")
	return short
}
