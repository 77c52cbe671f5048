package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

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
	db  *bolt.DB
	mem *memdb.MemDB
	log *slog.Logger

	lastID   atomic.Uint64 // highest job id allocated
	jobLocks [256]sync.Mutex
	keyLocks [64]sync.Mutex // submissions with a key, by a hash of it
	queueMu  sync.RWMutex   // read: submissions; write: queue changes

	closeMu sync.RWMutex // read: a write in flight; write: Close
	closed  bool
	writes  chan *write
	done    chan struct{} // closed when the committer has ended

	unreadable int
	account    func(old, cur *jobs.Job, by string) []string
	accounted  func()
}

// maxBatch bounds how many writes one bbolt transaction carries.
const maxBatch = 512

// Open opens (creating if needed) the store at path, migrates it to
// SchemaVersion and loads the view. Records that cannot be read are
// reported and skipped, not fatal: they stay in the file untouched.
func Open(path string, opts Options) (s *Store, retErr error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer func() {
		if retErr != nil {
			db.Close()
		}
	}()
	from, err := migrate(db)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if from != SchemaVersion {
		log.Info("state database migrated", "from", from, "to", SchemaVersion)
	}
	mem, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, err
	}
	s = &Store{db: db, mem: mem, log: log, writes: make(chan *write), done: make(chan struct{}),
		account: opts.Account, accounted: opts.Accounted}
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	go s.commit()
	return s, nil
}

// Unreadable returns how many records Open had to skip.
func (s *Store) Unreadable() int { return s.unreadable }

// load fills the view from bbolt. Records are decoded in parallel (JSON
// decoding is most of the start time of a daemon with many jobs), then
// inserted in id order.
func (s *Store) load() error {
	// Most of what is allocated here is kept; collecting less often while
	// loading saves collections that would find little garbage.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	return s.db.View(func(tx *bolt.Tx) error {
		txn := s.mem.Txn(true)
		defer txn.Abort()
		b := tx.Bucket(bucketJobs)
		last := b.Sequence()
		type record struct {
			id  uint64
			val []byte // valid until the transaction ends
			job *jobs.Job
			err error
		}
		var recs []record
		err := b.ForEach(func(k, v []byte) error {
			id, err := keyID(k)
			if err != nil {
				s.unreadable++
				s.log.Error("unreadable job key, skipped", "key", fmt.Sprintf("%x", k), "error", err)
				return nil
			}
			if !jobs.ID(id).IsSubjob() {
				last = max(last, id)
			}
			recs = append(recs, record{id: id, val: v})
			return nil
		})
		if err != nil {
			return err
		}
		workers := min(runtime.GOMAXPROCS(0), 1+len(recs)/1000)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(recs); i += workers {
					r := &recs[i]
					var d diskJob
					r.err = json.Unmarshal(r.val, &d)
					if r.err == nil && d.ID != r.id {
						r.err = fmt.Errorf("record of job %d under key %d", d.ID, r.id)
					}
					if r.err == nil {
						r.job, r.err = d.job()
					}
				}
			})
		}
		wg.Wait()
		for _, r := range recs {
			if r.err != nil {
				s.unreadable++
				s.log.Error("unreadable job record, skipped", "job_id", r.id, "error", r.err)
				continue
			}
			if err := txn.Insert(tableJobs, r.job); err != nil {
				return err
			}
		}
		s.lastID.Store(last)
		err = tx.Bucket(bucketQueues).ForEach(func(k, v []byte) error {
			var d diskQueue
			if err := json.Unmarshal(v, &d); err != nil || d.Name != string(k) {
				s.unreadable++
				s.log.Error("unreadable queue record, skipped", "queue", string(k), "error", err)
				return nil
			}
			return txn.Insert(tableQueues, d.queue())
		})
		if err != nil {
			return err
		}
		txn.Commit()
		return nil
	})
}

// Close waits for writes in flight, then closes the file. Later writes
// fail with ErrClosed; views already taken stay readable.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.writes)
	s.closeMu.Unlock()
	<-s.done
	return s.db.Close()
}

// An op is one change: applied to bbolt first, then to the view.
type op interface {
	persist(tx *bolt.Tx) error
	apply(txn *memdb.Txn) error
}

type putJob struct {
	job    *jobs.Job
	data   []byte
	script []byte // nil: leave the stored script alone
	env    []byte // nil: leave the stored environment alone
	subKey []byte // submissions index entry (uid, key) to create; nil: none
	acct   []string
}

// jobsFillPercent packs job pages fuller than bbolt's default (half):
// records are appended in id order and grow little afterwards.
const jobsFillPercent = 0.9

func (o putJob) persist(tx *bolt.Tx) error {
	b := tx.Bucket(bucketJobs)
	b.FillPercent = jobsFillPercent
	id := uint64(o.job.ID)
	if id > b.Sequence() && !o.job.ID.IsSubjob() { // subjob ids are not allocated
		if err := b.SetSequence(id); err != nil {
			return err
		}
	}
	for _, x := range []struct {
		bucket, val []byte
	}{{bucketScript, o.script}, {bucketEnv, o.env}} {
		if x.val == nil {
			continue
		}
		xb := tx.Bucket(x.bucket)
		xb.FillPercent = jobsFillPercent
		if err := xb.Put(idKey(id), x.val); err != nil {
			return err
		}
	}
	if o.subKey != nil {
		if err := tx.Bucket(bucketSubmissions).Put(o.subKey, idKey(id)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSubmitKeys).Put(idKey(id), o.subKey); err != nil {
			return err
		}
	}
	if err := putAccounting(tx, o.acct); err != nil {
		return err
	}
	return b.Put(idKey(id), o.data)
}

// putAccounting appends records to the outbox, numbered in commit order.
func putAccounting(tx *bolt.Tx, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	b := tx.Bucket(bucketAccounting)
	b.FillPercent = jobsFillPercent
	for _, l := range lines {
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(idKey(n), []byte(l)); err != nil {
			return err
		}
	}
	return nil
}

func (o putJob) apply(txn *memdb.Txn) error { return txn.Insert(tableJobs, o.job) }

type deleteJob struct {
	job  *jobs.Job
	acct []string
}

func (o deleteJob) persist(tx *bolt.Tx) error {
	if err := putAccounting(tx, o.acct); err != nil {
		return err
	}
	k := idKey(uint64(o.job.ID))
	// The job's submission key expires with it.
	if sk := tx.Bucket(bucketSubmitKeys).Get(k); sk != nil {
		if err := tx.Bucket(bucketSubmissions).Delete(sk); err != nil {
			return err
		}
	}
	for _, b := range [][]byte{bucketSubmitKeys, bucketScript, bucketEnv, bucketJobs} {
		if err := tx.Bucket(b).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func (o deleteJob) apply(txn *memdb.Txn) error { return txn.Delete(tableJobs, o.job) }

type putQueue struct {
	q    *Queue
	data []byte
}

func (o putQueue) persist(tx *bolt.Tx) error {
	return tx.Bucket(bucketQueues).Put([]byte(o.q.Name), o.data)
}

func (o putQueue) apply(txn *memdb.Txn) error { return txn.Insert(tableQueues, o.q) }

type deleteQueue struct{ q *Queue }

func (o deleteQueue) persist(tx *bolt.Tx) error {
	return tx.Bucket(bucketQueues).Delete([]byte(o.q.Name))
}

func (o deleteQueue) apply(txn *memdb.Txn) error { return txn.Delete(tableQueues, o.q) }

type write struct {
	ops  []op
	done chan error
}

// write hands ops to the committer and waits until they are durable and
// visible.
func (s *Store) write(ops ...op) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	w := &write{ops: ops, done: make(chan error, 1)}
	s.writes <- w
	if err := <-w.done; err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return nil
}

// commit is the committer goroutine, owned by the Store and ended by Close.
// It takes every write waiting at the moment (group commit: writes that
// arrive while a transaction is being synced go together into the next),
// makes them durable in one bbolt transaction, then applies them to the
// view in the same order.
func (s *Store) commit() {
	defer close(s.done)
	for w := range s.writes {
		batch := []*write{w}
	drain:
		for len(batch) < maxBatch {
			select {
			case more, ok := <-s.writes:
				if !ok {
					break drain
				}
				batch = append(batch, more)
			default:
				break drain
			}
		}
		errs := s.persist(batch)
		txn := s.mem.Txn(true)
		for i, w := range batch {
			if errs[i] != nil {
				continue
			}
			for _, o := range w.ops {
				if err := o.apply(txn); err != nil {
					// Only a broken indexer gets here; bbolt has the change,
					// so the view will have it after the next start.
					s.log.Error("store view update failed", "error", err)
					errs[i] = err
				}
			}
		}
		txn.Commit()
		accounted := false
		for i, w := range batch {
			if errs[i] == nil && hasAccounting(w.ops) {
				accounted = true
			}
			w.done <- errs[i]
		}
		if accounted && s.accounted != nil {
			s.accounted()
		}
	}
}

// persist writes a batch in one transaction; if that fails, each write is
// retried alone so that one bad write does not fail the others.
func (s *Store) persist(batch []*write) []error {
	errs := make([]error, len(batch))
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, w := range batch {
			for _, o := range w.ops {
				if err := o.persist(tx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		return errs
	}
	if len(batch) == 1 {
		errs[0] = err
		return errs
	}
	for i, w := range batch {
		errs[i] = s.db.Update(func(tx *bolt.Tx) error {
			for _, o := range w.ops {
				if err := o.persist(tx); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return errs
}

func encodeJob(j *jobs.Job) ([]byte, error) { return json.Marshal(toDiskJob(j)) }

// NextID allocates a job id. Ids of submissions that fail are not reused
// while the daemon runs.
func (s *Store) NextID() jobs.ID { return jobs.ID(s.lastID.Add(1)) }

// Submit stores a new job with its script and the submitter's environment
// (NUL-separated; nil for none), all in one transaction. check runs first,
// against a view in which no queue changes until the job is stored; its
// error aborts the submission.
func (s *Store) Submit(j *jobs.Job, script, env []byte, check func(*View) error) error {
	return s.submit(j, script, env, nil, check)
}

// submit stores j, and with it, in its transaction, the changes more.
func (s *Store) submit(j *jobs.Job, script, env, subKey []byte, check func(*View) error, more ...op) error {
	s.queueMu.RLock()
	defer s.queueMu.RUnlock()
	if check != nil {
		if err := check(s.View()); err != nil {
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
	return s.write(append([]op{putJob{job: j, data: data, script: script, env: env, subKey: subKey, acct: s.records(nil, j, "")}}, more...)...)
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
	var id uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSubmissions).Get(submissionKey(uid, key))
		if v == nil {
			return nil
		}
		var err error
		id, err = keyID(v)
		return err
	})
	return jobs.ID(id), err
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
	prev, err := s.Submitted(j.Owner.UID, key)
	if err != nil || prev != 0 {
		return prev, prev != 0, err
	}
	if err := s.submit(j, script, env, submissionKey(j.Owner.UID, key), check); err != nil {
		return 0, false, err
	}
	return j.ID, false, nil
}

func (s *Store) lockJob(id jobs.ID) func() {
	l := &s.jobLocks[uint64(id)%uint64(len(s.jobLocks))]
	l.Lock()
	return l.Unlock
}

// UpdateJob changes a job: fn gets a copy of the current record and changes
// it; if fn returns an error nothing is stored. Updates of one job are
// serialised, so fn sees the result of the previous one.
func (s *Store) UpdateJob(id jobs.ID, fn func(*jobs.Job) error) (*jobs.Job, error) {
	defer s.lockJob(id)()
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
	if err := s.write(putJob{job: j, data: data, acct: s.records(cur, j, "")}); err != nil {
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
// none is.
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
		ops[i] = putJob{job: j, data: data, acct: s.records(olds[i], j, "")}
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
	cur := s.View().Job(id)
	if cur == nil {
		return nil, fmt.Errorf("job %d: %w", id, ErrNoJob)
	}
	if check != nil {
		if err := check(cur); err != nil {
			return nil, err
		}
	}
	return cur, s.write(deleteJob{job: cur, acct: s.records(cur, nil, by)})
}

// Env returns the environment stored with a job, or nil.
func (s *Store) Env(id jobs.ID) ([]byte, error) { return s.blob(bucketEnv, id) }

// Script returns a job's script, or nil.
func (s *Store) Script(id jobs.ID) ([]byte, error) { return s.blob(bucketScript, id) }

func (s *Store) blob(bucket []byte, id jobs.ID) ([]byte, error) {
	id = id.Base() // a subjob's script and environment are its array's
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucket).Get(idKey(uint64(id))); v != nil {
			out = append([]byte{}, v...) // v lives only as long as the transaction
		}
		return nil
	})
	return out, err
}

// CreateQueue stores a new queue.
func (s *Store) CreateQueue(q *Queue) error {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	if s.View().Queue(q.Name) != nil {
		return fmt.Errorf("queue %q: %w", q.Name, ErrQueueExists)
	}
	return s.putQueue(q)
}

// UpdateQueue changes a queue through a copy, like UpdateJob.
func (s *Store) UpdateQueue(name string, fn func(*Queue) error) (*Queue, error) {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	cur := s.View().Queue(name)
	if cur == nil {
		return nil, fmt.Errorf("queue %q: %w", name, ErrNoQueue)
	}
	q := cur.Copy()
	if err := fn(q); err != nil {
		return nil, err
	}
	q.Name = name
	return q, s.putQueue(q)
}

func (s *Store) putQueue(q *Queue) error {
	data, err := json.Marshal(toDiskQueue(q))
	if err != nil {
		return err
	}
	return s.write(putQueue{q: q, data: data})
}

// DeleteQueue removes a queue once check, run against a view in which no
// job is submitted meanwhile, accepts.
func (s *Store) DeleteQueue(name string, check func(*View) error) error {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	v := s.View()
	cur := v.Queue(name)
	if cur == nil {
		return fmt.Errorf("queue %q: %w", name, ErrNoQueue)
	}
	if check != nil {
		if err := check(v); err != nil {
			return err
		}
	}
	return s.write(deleteQueue{q: cur})
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
func (s *Store) Accounting(limit int) ([]AcctEntry, error) {
	var out []AcctEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAccounting).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			n, err := keyID(k)
			if err != nil {
				continue
			}
			out = append(out, AcctEntry{N: n, Line: string(v)}) // string copies v
		}
		return nil
	})
	return out, err
}

// AccountingDone removes the outbox's records up to number upTo: they are
// durable in the accounting files.
func (s *Store) AccountingDone(upTo uint64) error { return s.write(acctDone{upTo}) }

type acctDone struct{ upTo uint64 }

func (o acctDone) persist(tx *bolt.Tx) error {
	c := tx.Bucket(bucketAccounting).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.First() {
		if n, err := keyID(k); err == nil && n > o.upTo {
			return nil
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func (acctDone) apply(*memdb.Txn) error { return nil }
