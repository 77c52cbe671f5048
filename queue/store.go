package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"lazarus/jobs"
)

// Options tune Open.
type Options struct {
	Logger *slog.Logger // where unreadable records are reported; nil: discarded
	// LockTimeout is how long Open waits for another process to release the
	// file; default one second.
	LockTimeout time.Duration
	// Account returns the accounting records (lines, each with its
	// newline) of a change of a job: old nil for a submission, cur nil for
	// a removal, by who asked for a removal. They are stored in the
	// change's transaction (the outbox, read by Accounting). Nil: none.
	Account func(old, cur *jobs.Job, by string) []string
	// Accounted, if set, is called after a transaction that stored
	// accounting records has committed.
	Accounted func()
}

// Store is the job and queue store. It is safe for concurrent use.
type Store struct {
	be  backend
	mem *memdb.MemDB
	log *slog.Logger

	jobLocks [256]sync.Mutex
	keyLocks [64]sync.Mutex // submissions with a key, by a hash of it
	queueMu  sync.RWMutex   // read: submissions; write: queue changes

	closeMu sync.RWMutex // read: a write in flight; write: Close
	closed  bool

	unreadable int
	account    func(old, cur *jobs.Job, by string) []string
	accounted  func()
}

// backend is where a Store keeps its records: a bbolt file (one host,
// boltstore.go) or etcd (a cluster, etcd.go). The view is the Store's; a
// backend fills it and keeps it current.
type backend interface {
	// write makes ops durable, then visible in the view, before it
	// returns. It fails with errConflict when a record it changes is no
	// longer the one its op was computed from (another node changed it):
	// the view has the newer one by then.
	write(ops []op) error
	nextID() (jobs.ID, error)
	submitted(subKey []byte) (jobs.ID, error)
	blob(bucket []byte, id jobs.ID) ([]byte, error)
	accounting(limit int) ([]AcctEntry, error)
	accountingDone(upTo uint64) error
	// revision is the view's position in the backend's history (0: the
	// backend has no history shared with others).
	revision() int64
	close() error
}

func newStore(log *slog.Logger, opts Options) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mem, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, err
	}
	return &Store{mem: mem, log: log, account: opts.Account, accounted: opts.Accounted}, nil
}

// Unreadable returns how many records Open had to skip.
func (s *Store) Unreadable() int { return s.unreadable }

// Close waits for writes in flight, then closes the backend. Later writes
// fail with ErrClosed; views already taken stay readable.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	return s.be.close()
}

// An op is one change: made durable by the backend, then applied to the
// view.
type op interface {
	apply(txn *memdb.Txn) error
}

type putJob struct {
	job    *jobs.Job
	old    *jobs.Job // the record it replaces, from the view; nil: a new job
	queue  *Queue    // a new job's queue as its submission's check saw it (nil: none)
	data   []byte
	script []byte // nil: leave the stored script alone
	env    []byte // nil: leave the stored environment alone
	subKey []byte // submissions index entry (uid, key) to create; nil: none
	acct   []string
	// started: this is an array's change at the start of its subjob
	// started that only marks it SubRecord (etcd stores no more than the
	// subjob's record then; etcd_array.go); 0: a change of the record.
	started jobs.ID
}

func (o putJob) apply(txn *memdb.Txn) error { return txn.Insert(tableJobs, o.job) }

type deleteJob struct {
	job  *jobs.Job
	acct []string
}

func (o deleteJob) apply(txn *memdb.Txn) error { return txn.Delete(tableJobs, o.job) }

type putQueue struct {
	q    *Queue
	old  *Queue // the record it replaces; nil: a new queue
	data []byte
}

func (o putQueue) apply(txn *memdb.Txn) error { return txn.Insert(tableQueues, o.q) }

type deleteQueue struct {
	q *Queue
	// rev: no job created after this revision (one its check did not
	// see) may exist when the queue goes; 0: nothing to compare.
	rev int64
}

func (o deleteQueue) apply(txn *memdb.Txn) error { return txn.Delete(tableQueues, o.q) }

// write hands ops to the backend and waits until they are durable and
// visible.
func (s *Store) write(ops ...op) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	err := s.be.write(ops)
	if err != nil && !errors.Is(err, errConflict) && !errors.Is(err, ErrWrite) {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return err
}

// maxConflicts bounds how many times a change is computed again because
// another node changed what it read.
const maxConflicts = 100

// retry runs fn until it does not fail with errConflict (only etcd's
// backend reports conflicts: the view then has the other node's change,
// and fn computes the change again from it).
func retry[T any](fn func() (T, error)) (T, error) {
	for range maxConflicts - 1 {
		v, err := fn()
		if !errors.Is(err, errConflict) {
			return v, err
		}
	}
	v, err := fn()
	if errors.Is(err, errConflict) {
		err = fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return v, err
}

// noID is the error of a submission without a job id (NextID failed).
func (s *Store) noID() error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return fmt.Errorf("%w: no job id could be allocated", ErrWrite)
}

func encodeJob(j *jobs.Job) ([]byte, error) { return json.Marshal(toDiskJob(j)) }

// NextID allocates a job id, unique in every store on the same records
// (cluster-wide on etcd). Ids of submissions that fail are not reused.
// If no id can be had (etcd without quorum), it returns 0, which Submit
// refuses with the reason.
func (s *Store) NextID() jobs.ID {
	id, err := s.be.nextID()
	if err != nil {
		s.log.Error("cannot allocate a job id", "error", err)
		return 0
	}
	return id
}

// Submit stores a new job with its script and the submitter's environment
// (NUL-separated; nil for none), all in one transaction. check runs first,
// against a view in which no queue changes until the job is stored; its
// error aborts the submission.
func (s *Store) Submit(j *jobs.Job, script, env []byte, check func(*View) error) error {
	_, err := retry(func() (struct{}, error) { return struct{}{}, s.submit(j, script, env, nil, check) })
	return err
}

// submit stores j, and with it, in its transaction, the changes more.
func (s *Store) submit(j *jobs.Job, script, env, subKey []byte, check func(*View) error, more ...op) error {
	if j.ID == 0 {
		return s.noID()
	}
	s.queueMu.RLock()
	defer s.queueMu.RUnlock()
	v := s.View()
	if check != nil {
		if err := check(v); err != nil {
			return err
		}
	}
	data, err := encodeJob(j)
	if err != nil {
		return err
	}
	if script == nil {
		script = []byte{}
	}
	if env == nil {
		env = []byte{}
	}
	return s.write(append([]op{putJob{job: j, queue: v.Queue(j.Queue), data: data, script: script, env: env, subKey: subKey, acct: s.records(nil, j, "")}}, more...)...)
}

// MaxKeyLen bounds a submission key.
const MaxKeyLen = 128

// submissionKey is a key's entry in the submissions bucket: keys are
// scoped by the submitter's uid, so one user's key never names another
// user's job.
func submissionKey(uid uint32, key string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uid), key...)
}

// Submitted returns the job that uid submitted with key, or 0 when there
// is none (never was, or it has been deleted).
func (s *Store) Submitted(uid uint32, key string) (jobs.ID, error) {
	return s.be.submitted(submissionKey(uid, key))
}

// SubmitOnce is Submit for a submission that carries its client's key
// (1 to MaxKeyLen bytes): the job is stored with the key in the same
// transaction, unless its owner already submitted a job with that key that
// still exists, in which case nothing is stored and that job's id is
// returned with dup true. Submissions with the same key are serialised, so
// two of them in flight at once make one job.
func (s *Store) SubmitOnce(key string, j *jobs.Job, script, env []byte, check func(*View) error) (id jobs.ID, dup bool, err error) {
	if key == "" || len(key) > MaxKeyLen {
		return 0, false, fmt.Errorf("submission key of %d bytes: want 1 to %d", len(key), MaxKeyLen)
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	l := &s.keyLocks[h.Sum32()%uint32(len(s.keyLocks))]
	l.Lock()
	defer l.Unlock()
	// On etcd the key is unique across nodes too: a submission that
	// conflicts with another node's of the same key finds it on the retry.
	type result struct {
		id  jobs.ID
		dup bool
	}
	r, err := retry(func() (result, error) {
		prev, err := s.Submitted(j.Owner.UID, key)
		if err != nil || prev != 0 {
			return result{prev, prev != 0}, err
		}
		if err := s.submit(j, script, env, submissionKey(j.Owner.UID, key), check); err != nil {
			return result{}, err
		}
		return result{j.ID, false}, nil
	})
	return r.id, r.dup, err
}

func (s *Store) lockJob(id jobs.ID) func() {
	l := &s.jobLocks[uint64(id)%uint64(len(s.jobLocks))]
	l.Lock()
	return l.Unlock
}

// UpdateJob changes a job: fn gets a copy of the current record and changes
// it; if fn returns an error nothing is stored. Updates of one job are
// serialised, so fn sees the result of the previous one; on etcd, where
// another node may change the job meanwhile, fn runs again on the newer
// record when that happens (so it must only change the copy it gets).
func (s *Store) UpdateJob(id jobs.ID, fn func(*jobs.Job) error) (*jobs.Job, error) {
	defer s.lockJob(id)()
	return retry(func() (*jobs.Job, error) { return s.updateJob(id, fn) })
}

func (s *Store) updateJob(id jobs.ID, fn func(*jobs.Job) error) (*jobs.Job, error) {
	cur := s.View().Job(id)
	if cur == nil {
		return nil, fmt.Errorf("job %d: %w", id, ErrNoJob)
	}
	j := cur.Copy()
	if err := fn(j); err != nil {
		return nil, err
	}
	j.ID = id
	data, err := encodeJob(j)
	if err != nil {
		return nil, err
	}
	if err := s.write(putJob{job: j, old: cur, data: data, acct: s.records(cur, j, "")}); err != nil {
		return nil, err
	}
	return j, nil
}

// records are the accounting records of a change, if the store keeps any.
func (s *Store) records(old, cur *jobs.Job, by string) []string {
	if s.account == nil {
		return nil
	}
	return s.account(old, cur, by)
}

// UpdateJobs changes several jobs in one transaction: fn gets copies of
// their current records, in the order of ids, and changes them; if fn
// returns an error nothing is stored. Either every change is durable or
// none is. Like UpdateJob's, fn may run again after a conflict on etcd.
func (s *Store) UpdateJobs(ids []jobs.ID, fn func([]*jobs.Job) error) ([]*jobs.Job, error) {
	// Each lock stripe once, in order: two callers never wait on each
	// other in a cycle.
	stripes := map[uint64]bool{}
	for _, id := range ids {
		stripes[uint64(id)%uint64(len(s.jobLocks))] = true
	}
	order := make([]uint64, 0, len(stripes))
	for k := range stripes {
		order = append(order, k)
	}
	slices.Sort(order)
	for _, k := range order {
		s.jobLocks[k].Lock()
		defer s.jobLocks[k].Unlock()
	}
	return retry(func() ([]*jobs.Job, error) { return s.updateJobs(ids, fn) })
}

func (s *Store) updateJobs(ids []jobs.ID, fn func([]*jobs.Job) error) ([]*jobs.Job, error) {
	v := s.View()
	js := make([]*jobs.Job, len(ids))
	olds := make([]*jobs.Job, len(ids))
	for i, id := range ids {
		cur := v.Job(id)
		if cur == nil {
			return nil, fmt.Errorf("job %d: %w", id, ErrNoJob)
		}
		olds[i], js[i] = cur, cur.Copy()
	}
	if err := fn(js); err != nil {
		return nil, err
	}
	ops := make([]op, len(js))
	for i, j := range js {
		j.ID = ids[i]
		data, err := encodeJob(j)
		if err != nil {
			return nil, err
		}
		ops[i] = putJob{job: j, old: olds[i], data: data, acct: s.records(olds[i], j, "")}
	}
	if err := s.write(ops...); err != nil {
		return nil, err
	}
	return js, nil
}

// DeleteJob removes a job once check accepts its current record.
func (s *Store) DeleteJob(id jobs.ID, check func(*jobs.Job) error) (*jobs.Job, error) {
	return s.DeleteJobBy(id, "", check)
}

// DeleteJobBy is DeleteJob on the request of by (a user, "user@host"),
// whom the accounting record of the removal names.
func (s *Store) DeleteJobBy(id jobs.ID, by string, check func(*jobs.Job) error) (*jobs.Job, error) {
	defer s.lockJob(id)()
	return retry(func() (*jobs.Job, error) { return s.deleteJob(id, by, check) })
}

func (s *Store) deleteJob(id jobs.ID, by string, check func(*jobs.Job) error) (*jobs.Job, error) {
	cur := s.View().Job(id)
	if cur == nil {
		return nil, fmt.Errorf("job %d: %w", id, ErrNoJob)
	}
	if check != nil {
		if err := check(cur); err != nil {
			return nil, err
		}
	}
	if err := s.write(deleteJob{job: cur, acct: s.records(cur, nil, by)}); err != nil {
		return nil, err
	}
	return cur, nil
}

// Env returns the environment stored with a job, or nil.
func (s *Store) Env(id jobs.ID) ([]byte, error) { return s.blob(bucketEnv, id) }

// Script returns a job's script, or nil.
func (s *Store) Script(id jobs.ID) ([]byte, error) { return s.blob(bucketScript, id) }

func (s *Store) blob(bucket []byte, id jobs.ID) ([]byte, error) {
	return s.be.blob(bucket, id.Base()) // a subjob's script and environment are its array's
}

// CreateQueue stores a new queue.
func (s *Store) CreateQueue(q *Queue) error {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	_, err := retry(func() (struct{}, error) {
		if s.View().Queue(q.Name) != nil {
			return struct{}{}, fmt.Errorf("queue %q: %w", q.Name, ErrQueueExists)
		}
		return struct{}{}, s.putQueue(q, nil)
	})
	return err
}

// UpdateQueue changes a queue through a copy, like UpdateJob.
func (s *Store) UpdateQueue(name string, fn func(*Queue) error) (*Queue, error) {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	return retry(func() (*Queue, error) {
		cur := s.View().Queue(name)
		if cur == nil {
			return nil, fmt.Errorf("queue %q: %w", name, ErrNoQueue)
		}
		q := cur.Copy()
		if err := fn(q); err != nil {
			return nil, err
		}
		q.Name = name
		if err := s.putQueue(q, cur); err != nil {
			return nil, err
		}
		return q, nil
	})
}

func (s *Store) putQueue(q, old *Queue) error {
	data, err := json.Marshal(toDiskQueue(q))
	if err != nil {
		return err
	}
	return s.write(putQueue{q: q, old: old, data: data})
}

// DeleteQueue removes a queue once check, run against a view in which no
// job is submitted meanwhile, accepts.
func (s *Store) DeleteQueue(name string, check func(*View) error) error {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	_, err := retry(func() (struct{}, error) {
		// The revision before the view: a job another node submits after
		// it (which check may not see) makes the deletion a conflict.
		rev := s.be.revision()
		v := s.View()
		cur := v.Queue(name)
		if cur == nil {
			return struct{}{}, fmt.Errorf("queue %q: %w", name, ErrNoQueue)
		}
		if check != nil {
			if err := check(v); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, s.write(deleteQueue{q: cur, rev: rev})
	})
	return err
}

func hasAccounting(ops []op) bool {
	for _, o := range ops {
		switch o := o.(type) {
		case putJob:
			if len(o.acct) > 0 {
				return true
			}
		case deleteJob:
			if len(o.acct) > 0 {
				return true
			}
		}
	}
	return false
}

// AcctEntry is one record of the accounting outbox.
type AcctEntry struct {
	N    uint64 // its number: records are numbered in commit order
	Line string
}

// Accounting returns up to limit records of the outbox, oldest first: the
// records of committed changes not yet copied to the accounting files.
func (s *Store) Accounting(limit int) ([]AcctEntry, error) { return s.be.accounting(limit) }

// AccountingDone removes the outbox's records up to number upTo: they are
// durable in the accounting files.
func (s *Store) AccountingDone(upTo uint64) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.be.accountingDone(upTo)
}
