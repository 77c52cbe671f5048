package jobs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PolicyKind is when a job is checkpointed (qsub -c); part 2 acts on it.
type PolicyKind string

const (
	CheckpointAtShutdown PolicyKind = "s" // only before the daemon's host goes down for maintenance
	CheckpointNever      PolicyKind = "n" // never; the job reruns from scratch (or fails) after a crash
	CheckpointInterval   PolicyKind = "i" // every Interval, and at shutdown
	// CheckpointQueue (PBS's -c c and -c w) is resolved at submission: the
	// interval of the queue's ckpt_default, or never if it has none.
	CheckpointQueue PolicyKind = "c"
)

// MinCheckpointInterval is the shortest interval qsub -c accepts:
// checkpointing more often costs more than a crash would.
const MinCheckpointInterval = time.Minute

// Policy is a job's checkpoint policy.
type Policy struct {
	Kind     PolicyKind
	Interval time.Duration // CheckpointInterval only
}

// DefaultPolicy is the policy of a job submitted without -c.
var DefaultPolicy = Policy{Kind: CheckpointAtShutdown}

// ParsePolicy parses qsub -c: "n" (never), "s" (at shutdown only), or an
// interval: a number of hours ("2", "0.5") or a duration with a unit
// ("90m", "1h30m"). PBS's forms are taken too: "u" (unset: as s), "c" and
// "w" (the queue's interval), and "c=MINUTES" and "w=MINUTES" (an
// interval in minutes; both count wall time here, where PBS counts CPU
// time for c=). Torque's none, shutdown, enabled, periodic and
// interval=MINUTES are read likewise. A bare number stays hours, the
// CONVEX guide's unit.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case string(CheckpointNever), "none": // "none", "shutdown"...: Torque's words
		return Policy{Kind: CheckpointNever}, nil
	case string(CheckpointAtShutdown), "u", "shutdown":
		return Policy{Kind: CheckpointAtShutdown}, nil
	case "c", "w", "enabled", "periodic":
		return Policy{Kind: CheckpointQueue}, nil
	}
	var d time.Duration
	if kind, mins, ok := strings.Cut(s, "="); ok && (kind == "c" || kind == "w" || kind == "interval") {
		n, err := strconv.ParseUint(mins, 10, 32)
		if err != nil || n == 0 || n > 365*24*60 {
			return Policy{}, fmt.Errorf("-c %s: %w (want a whole number of minutes, more than 0)", s, ErrBadPolicy)
		}
		d = time.Duration(n) * time.Minute
	} else if h, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "eEnNxXpP_") {
		if h <= 0 || h > 24*365 {
			return Policy{}, fmt.Errorf("-c %s: %w (interval must be more than 0 and at most a year)", s, ErrBadPolicy)
		}
		d = time.Duration(h * float64(time.Hour))
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return Policy{}, fmt.Errorf("-c %q: %w (want n, s, c, w, c=MINUTES, w=MINUTES, hours such as 2 or 0.5, or a duration such as 90m)", s, ErrBadPolicy)
		}
	}
	if d < MinCheckpointInterval {
		return Policy{}, fmt.Errorf("-c %s: %w (interval must be at least %s)", s, ErrBadPolicy, MinCheckpointInterval)
	}
	return Policy{Kind: CheckpointInterval, Interval: d.Round(time.Second)}, nil
}

// String formats p the way qsub -c takes it.
func (p Policy) String() string {
	switch p.Kind {
	case CheckpointInterval:
		if p.Interval%time.Hour == 0 {
			return strconv.FormatInt(int64(p.Interval/time.Hour), 10)
		}
		s := p.Interval.String() // "1h30m0s"
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	case "":
		return string(DefaultPolicy.Kind)
	}
	return string(p.Kind)
}
