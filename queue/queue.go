package queue

import (
	"fmt"
	"strconv"
	"strings"
	"time"
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
}

// NewQueue returns a queue that is enabled and started, with no limits.
func NewQueue(name string, now time.Time) *Queue {
	return &Queue{Name: name, Enabled: true, Started: true, Created: now}
}

// Copy returns a copy of q that can be changed.
func (q *Queue) Copy() *Queue { c := *q; return &c }

// QueueAttributes lists the attributes Set knows, in listing order.
var QueueAttributes = []string{"priority", "enabled", "started", "max_running", "max_user_running"}

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
