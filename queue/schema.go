package queue

import (
	"encoding/binary"
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"lazarus/jobs"
)

// memdb tables and indexes.
const (
	tableJobs   = "jobs"
	tableQueues = "queues"

	indexID      = "id"      // jobs: by id; queues: by name
	indexState   = "state"   // jobs: by state, then id
	indexOwner   = "owner"   // jobs: by owner uid, then id
	indexPending = "pending" // jobs waiting to run (queued, requeued): by queue, then id
)

func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableJobs:   jobsTableSchema(),
		tableQueues: queuesTableSchema(),
	}}
}

// jobsTableSchema indexes jobs for lookups by id, for qstat (by state,
// owner) and for the scheduler: the pending index lists only jobs that wait
// to run, per queue, in submission order (memdb appends the id to
// non-unique keys), so a scheduling pass never walks finished jobs. Every
// index costs a few hundred bytes per job (radix nodes, each with its watch
// channel), so there is none for what is rare: counting a queue's jobs
// walks all of them.
func jobsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: tableJobs,
		Indexes: map[string]*memdb.IndexSchema{
			indexID: {
				Name:    indexID,
				Unique:  true,
				Indexer: jobIDIndex{},
			},
			indexState: {
				Name:    indexState,
				Indexer: jobStringIndex(func(j *jobs.Job) (string, bool) { return string(j.State), true }),
			},
			indexOwner: {
				Name:    indexOwner,
				Indexer: jobUIDIndex{},
			},
			indexPending: {
				Name:         indexPending,
				AllowMissing: true,
				Indexer:      jobStringIndex(func(j *jobs.Job) (string, bool) { return j.Queue, waitsToRun(j) }),
			},
		},
	}
}

func queuesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: tableQueues,
		Indexes: map[string]*memdb.IndexSchema{
			indexID: {
				Name:    indexID,
				Unique:  true,
				Indexer: &memdb.StringFieldIndex{Field: "Name"},
			},
		},
	}
}

// waitsToRun says whether a job is in the pending index: queued or
// requeued, or an array job that has begun and still has subjobs to start.
func waitsToRun(j *jobs.Job) bool {
	return j.State.Pending() || j.State == jobs.Begun && j.Array != nil && j.Array.Waiting()
}

// jobIDIndex keys a job by its id, big-endian, without reflection.
type jobIDIndex struct{}

func (jobIDIndex) FromObject(obj any) (bool, []byte, error) {
	j, ok := obj.(*jobs.Job)
	if !ok {
		return false, nil, fmt.Errorf("index %s: %T is not a job", indexID, obj)
	}
	return true, idKey(uint64(j.ID)), nil
}

func (jobIDIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("index %s: want one argument", indexID)
	}
	id, ok := args[0].(jobs.ID)
	if !ok {
		return nil, fmt.Errorf("index %s: argument %T is not a job id", indexID, args[0])
	}
	return idKey(uint64(id)), nil
}

// jobUIDIndex keys a job by its owner's uid.
type jobUIDIndex struct{}

func (jobUIDIndex) FromObject(obj any) (bool, []byte, error) {
	j, ok := obj.(*jobs.Job)
	if !ok {
		return false, nil, fmt.Errorf("index %s: %T is not a job", indexOwner, obj)
	}
	return true, binary.BigEndian.AppendUint32(nil, j.Owner.UID), nil
}

func (jobUIDIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("index %s: want one argument", indexOwner)
	}
	uid, ok := args[0].(uint32)
	if !ok {
		return nil, fmt.Errorf("index %s: argument %T is not a uint32", indexOwner, args[0])
	}
	return binary.BigEndian.AppendUint32(nil, uid), nil
}

// jobStringIndex keys a job by a string the function picks; a false result
// leaves the job out of the index (a conditional index).
type jobStringIndex func(*jobs.Job) (string, bool)

func (f jobStringIndex) FromObject(obj any) (bool, []byte, error) {
	j, ok := obj.(*jobs.Job)
	if !ok {
		return false, nil, fmt.Errorf("%T is not a job", obj)
	}
	s, ok := f(j)
	if !ok {
		return false, nil, nil
	}
	return true, append([]byte(s), 0), nil
}

func (f jobStringIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want one argument")
	}
	switch s := args[0].(type) {
	case string:
		return append([]byte(s), 0), nil
	case jobs.State:
		return append([]byte(s), 0), nil
	}
	return nil, fmt.Errorf("argument %T is not a string", args[0])
}
