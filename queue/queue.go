package queue

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"lazarus/jobs"
)

// Queue is a batch queue (NQS style): it accepts submissions while enabled
// and runs its jobs while started; queues with a higher priority are served
// first.
type Queue struct {
	Name           string
	Priority       int  // higher first
	Enabled        bool // accepts submissions
	Started        bool // its jobs may start
	MaxRunning     int  // jobs of this queue running at once; 0: no limit
	MaxUserRunning int  // jobs of one user in this queue running at once; 0: no limit
	Created        time.Time
	// CkptMin is the shortest checkpoint interval of the queue's jobs: a
	// job asking for checkpoints more often gets them this often. 0: none.
	CkptMin time.Duration
	// CkptDefault is the checkpoint policy of jobs submitted without qsub
	// -c; zero: the server's (s).
	CkptDefault jobs.Policy
	// CkptKeep is how many good checkpoint generations each job keeps; 0:
	// the server's checkpoint_keep.
	CkptKeep int
	// CkptFullEvery: one checkpoint generation in this many is
	// self-contained, the others incremental; 0: the server's
	// checkpoint_full_every.
	CkptFullEvery int
	// NetDefault is the net resource of the queue's jobs that ask for
	// none: jobs.NetPrivate, or "" (the host's network).
	NetDefault string
	// CkptCompress: the queue's jobs' images are compressed (1), not
	// (-1), or as the server's checkpoint_compress says (0).
	CkptCompress int
}

// NewQueue returns a queue that is enabled and started, with no limits.
func NewQueue(name string, now time.Time) *Queue {
	return &Queue{Name: name, Enabled: true, Started: true, Created: now}
}

// Copy returns a copy of q that can be changed.
func (q *Queue) Copy() *Queue { c := *q; return &c }

// QueueAttributes lists the attributes Set knows, in listing order.
var QueueAttributes = []string{"priority", "enabled", "started", "max_running", "max_user_running",
	"ckpt_min", "ckpt_default", "ckpt_keep", "ckpt_compress", "ckpt_full_every", "net_default"}

// Set changes one attribute, as qmgr "set queue NAME attr = value" asks.
func (q *Queue) Set(attr, value string) error {
	switch attr {
	case "priority":
		n, err := strconv.Atoi(value)
		if err != nil || n < -1024 || n > 1024 {
			return fmt.Errorf("priority = %s: %w (want a whole number from -1024 to 1024)", value, ErrBadQueue)
		}
		q.Priority = n
	case "max_running", "max_user_running":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return fmt.Errorf("%s = %s: %w (want a whole number, 0 for no limit)", attr, value, ErrBadQueue)
		}
		if attr == "max_running" {
			q.MaxRunning = n
		} else {
			q.MaxUserRunning = n
		}
	case "enabled", "started":
		b, err := parseBool(value)
		if err != nil {
			return fmt.Errorf("%s = %s: %w (want true or false)", attr, value, ErrBadQueue)
		}
		if attr == "enabled" {
			q.Enabled = b
		} else {
			q.Started = b
		}
	case "ckpt_min":
		if value == "0" {
			q.CkptMin = 0
			return nil
		}
		p, err := jobs.ParsePolicy(value)
		if err != nil || p.Kind != jobs.CheckpointInterval {
			return fmt.Errorf("ckpt_min = %s: %w (want hours such as 1 or 0.5, a duration such as 90m, or 0)", value, ErrBadQueue)
		}
		q.CkptMin = p.Interval
	case "ckpt_default":
		p, err := jobs.ParsePolicy(value)
		if err != nil || p.Kind == jobs.CheckpointQueue { // "the queue's interval" cannot be the queue's
			return fmt.Errorf("ckpt_default = %s: %w (want n, s or an interval)", value, ErrBadQueue)
		}
		q.CkptDefault = p
	case "ckpt_keep":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > 1000 {
			return fmt.Errorf("ckpt_keep = %s: %w (want a whole number of generations, 0 for the server's checkpoint_keep)", value, ErrBadQueue)
		}
		q.CkptKeep = n
	case "ckpt_compress", "checkpoint_compress":
		if value == "default" {
			q.CkptCompress = 0
			return nil
		}
		b, err := parseBool(value)
		if err != nil {
			return fmt.Errorf("%s = %s: %w (want true, false or default: the server's checkpoint_compress)", attr, value, ErrBadQueue)
		}
		q.CkptCompress = -1
		if b {
			q.CkptCompress = 1
		}
	case "ckpt_full_every":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > 32 {
			return fmt.Errorf("ckpt_full_every = %s: %w (want 1 to 32 generations, 0 for the server's checkpoint_full_every)", value, ErrBadQueue)
		}
		q.CkptFullEvery = n
	case "net_default":
		switch value {
		case jobs.NetPrivate:
			q.NetDefault = jobs.NetPrivate
		case "host":
			q.NetDefault = ""
		default:
			return fmt.Errorf("net_default = %s: %w (want private or host)", value, ErrBadQueue)
		}
	default:
		return fmt.Errorf("unknown queue attribute %q: %w (known: %s)", attr, ErrBadQueue, strings.Join(QueueAttributes, ", "))
	}
	return nil
}

// Get returns one attribute as Set takes it.
func (q *Queue) Get(attr string) string {
	switch attr {
	case "priority":
		return strconv.Itoa(q.Priority)
	case "enabled":
		return strconv.FormatBool(q.Enabled)
	case "started":
		return strconv.FormatBool(q.Started)
	case "max_running":
		return strconv.Itoa(q.MaxRunning)
	case "max_user_running":
		return strconv.Itoa(q.MaxUserRunning)
	case "ckpt_min":
		if q.CkptMin == 0 {
			return "0"
		}
		return jobs.Policy{Kind: jobs.CheckpointInterval, Interval: q.CkptMin}.String()
	case "ckpt_default":
		return q.CkptDefault.String()
	case "ckpt_keep":
		return strconv.Itoa(q.CkptKeep)
	case "ckpt_compress", "checkpoint_compress":
		switch q.CkptCompress {
		case 1:
			return "true"
		case -1:
			return "false"
		}
		return "default"
	case "ckpt_full_every":
		return strconv.Itoa(q.CkptFullEvery)
	case "net_default":
		if q.NetDefault == "" {
			return "host"
		}
		return q.NetDefault
	}
	return ""
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "t", "yes", "y", "1", "on":
		return true, nil
	case "false", "f", "no", "n", "0", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}
