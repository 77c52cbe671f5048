package queue

import "errors"

var (
	ErrNoJob       = errors.New("unknown job id")
	ErrNotQueued   = errors.New("the subjob does not wait to start")
	ErrNoQueue     = errors.New("unknown queue")
	ErrQueueExists = errors.New("queue exists")
	ErrLocked      = errors.New("state database is locked: is another lazarusd using this state dir?")
	ErrNewerSchema = errors.New("state database was written by a newer lazarusd")
	ErrClosed      = errors.New("store is closed")
	ErrBadQueue    = errors.New("bad queue setting")
	// ErrWrite wraps a failure to make a change durable (a full or failing
	// disk): nothing changed, and the same change may be tried again.
	ErrWrite = errors.New("cannot write the state database")
)

// errConflict means a write was computed from a record that another node
// has changed since: the view has the newer record, and the change can be
// computed again (retry does).
var errConflict = errors.New("changed by another node meanwhile")

var (
	// ErrTooLarge refuses a change that does not fit in one etcd
	// transaction (etcd's default limits: 128 operations, 1.5 MiB).
	ErrTooLarge = errors.New("change too large for one etcd transaction")
	// ErrJobExists refuses a submission whose job id is taken.
	ErrJobExists = errors.New("job id exists")
)
