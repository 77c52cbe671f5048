package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"lazarus/jobs"
)

// boltStore is the single-host backend: one bbolt file, written by one
// committer goroutine (owned by the backend, ended by close) that groups
// concurrent writes into one transaction.
type boltStore struct {
	s      *Store
	db     *bolt.DB
	lastID atomic.Uint64 // highest job id allocated
	writes chan *write
	done   chan struct{} // closed when the committer has ended
}

// maxBatch bounds how many writes one bbolt transaction carries.
const maxBatch = 512

// Open opens (creating if needed) the store at path, migrates it to
// SchemaVersion and loads the view. Records that cannot be read are
// reported and skipped, not fatal: they stay in the file untouched.
func Open(path string, opts Options) (s *Store, retErr error) {
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
	s, err = newStore(opts.Logger, opts)
	if err != nil {
		return nil, err
	}
	from, err := migrate(db)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if from != SchemaVersion {
		s.log.Info("state database migrated", "from", from, "to", SchemaVersion)
	}
	b := &boltStore{s: s, db: db, writes: make(chan *write), done: make(chan struct{})}
	if err := b.load(); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.be = b
	go b.commit()
	return s, nil
}

// load fills the view from bbolt. Records are decoded in parallel (JSON
// decoding is most of the start time of a daemon with many jobs), then
// inserted in id order.
func (b *boltStore) load() error {
	s := b.s
	// Most of what is allocated here is kept; collecting less often while
	// loading saves collections that would find little garbage.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	return b.db.View(func(tx *bolt.Tx) error {
		txn := s.mem.Txn(true)
		defer txn.Abort()
		bj := tx.Bucket(bucketJobs)
		last := bj.Sequence()
		var recs []record
		err := bj.ForEach(func(k, v []byte) error {
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
		decodeRecords(recs)
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
		b.lastID.Store(last)
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

// record is a job record being loaded.
type record struct {
	id  uint64
	val []byte // bbolt's: valid until the transaction ends
	rev int64  // etcd's mod revision
	job *jobs.Job
	err error
}

// decodeRecords decodes job records in parallel.
func decodeRecords(recs []record) {
	workers := min(runtime.GOMAXPROCS(0), 1+len(recs)/1000)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(recs); i += workers {
				r := &recs[i]
				r.job, r.err = decodeJob(r.id, r.val)
			}
		})
	}
	wg.Wait()
}

func decodeJob(id uint64, val []byte) (*jobs.Job, error) {
	var d diskJob
	if err := json.Unmarshal(val, &d); err != nil {
		return nil, err
	}
	if d.ID != id {
		return nil, fmt.Errorf("record of job %d under key %d", d.ID, id)
	}
	return d.job()
}

func (b *boltStore) close() error {
	close(b.writes)
	<-b.done
	return b.db.Close()
}

func (b *boltStore) nextID() (jobs.ID, error) { return jobs.ID(b.lastID.Add(1)), nil }

func (b *boltStore) revision() int64 { return 0 }

// boltOp is an op as bbolt stores it.
type boltOp interface {
	persist(tx *bolt.Tx) error
}

var _ = []boltOp{putJob{}, deleteJob{}, putQueue{}, deleteQueue{}, acctDone{}}

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

func (o putQueue) persist(tx *bolt.Tx) error {
	return tx.Bucket(bucketQueues).Put([]byte(o.q.Name), o.data)
}

func (o deleteQueue) persist(tx *bolt.Tx) error {
	return tx.Bucket(bucketQueues).Delete([]byte(o.q.Name))
}

type write struct {
	ops  []op
	done chan error
}

func (b *boltStore) write(ops []op) error {
	w := &write{ops: ops, done: make(chan error, 1)}
	b.writes <- w
	return <-w.done
}

// commit is the committer goroutine.
// It takes every write waiting at the moment (group commit: writes that
// arrive while a transaction is being synced go together into the next),
// makes them durable in one bbolt transaction, then applies them to the
// view in the same order.
func (b *boltStore) commit() {
	s := b.s
	defer close(b.done)
	for w := range b.writes {
		batch := []*write{w}
	drain:
		for len(batch) < maxBatch {
			select {
			case more, ok := <-b.writes:
				if !ok {
					break drain
				}
				batch = append(batch, more)
			default:
				break drain
			}
		}
		errs := b.persist(batch)
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
func (b *boltStore) persist(batch []*write) []error {
	errs := make([]error, len(batch))
	persist := func(tx *bolt.Tx, w *write) error {
		for _, o := range w.ops {
			if err := o.(boltOp).persist(tx); err != nil {
				return err
			}
		}
		return nil
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		for _, w := range batch {
			if err := persist(tx, w); err != nil {
				return err
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
		errs[i] = b.db.Update(func(tx *bolt.Tx) error { return persist(tx, w) })
	}
	return errs
}

func (b *boltStore) submitted(subKey []byte) (jobs.ID, error) {
	var id uint64
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSubmissions).Get(subKey)
		if v == nil {
			return nil
		}
		var err error
		id, err = keyID(v)
		return err
	})
	return jobs.ID(id), err
}

func (b *boltStore) blob(bucket []byte, id jobs.ID) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucket).Get(idKey(uint64(id))); v != nil {
			out = append([]byte{}, v...) // v lives only as long as the transaction
		}
		return nil
	})
	return out, err
}

func (b *boltStore) accounting(limit int) ([]AcctEntry, error) {
	var out []AcctEntry
	err := b.db.View(func(tx *bolt.Tx) error {
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

func (b *boltStore) accountingDone(upTo uint64) error {
	if err := b.write([]op{acctDone{upTo}}); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return nil
}

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
