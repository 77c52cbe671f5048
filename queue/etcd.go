package queue

// The etcd backend: the records of a cluster, shared by every node's
// Store. Under the prefix (EtcdOptions, "/lazarus" by default):
//
//	<prefix>/meta/schema_version       → decimal layout version, "6"
//	                                     (etcdSchemaVersion)
//	<prefix>/meta/last_id              → decimal, the highest job id reserved
//	<prefix>/jobs/<id: 16 hex digits>  → diskJob, JSON, as in bbolt (subjob
//	                                     ids have bit 63 set: they sort last)
//	<prefix>/array_starts/<array id: 16 hex digits>
//	                                   → decimal index of the subjob
//	                                     started last (etcd_array.go)
//	<prefix>/queues/<name>             → diskQueue, JSON
//	<prefix>/submissions/<hex of uid (4 bytes, big-endian) and key>
//	                                   → decimal job id
//	<prefix>/submission_keys/<id: 16 hex digits>
//	                                   → the job's key under submissions/
//	<prefix>/accounting/<store: 16 hex digits>/<n: 16 hex digits>
//	                                   → etcdAcct, JSON: the accounting records
//	                                     of one change
//
// Scripts and environments are not in etcd (its requests are small, and
// its history keeps every version until compaction): they are files in
// the spool directory every node shares, one file per job (spool.go),
// written and fsynced (file and directory) before the job's record is
// committed, and removed after the record is deleted.
//
// Every write is one etcd transaction (alone, or nested in the one of a
// group of concurrent writes: etcd_batch.go), committed before the call
// returns, that compares the mod revision of every record it changes with the one
// the change was computed from (the view's): a change computed from a
// record another node has changed since fails as a conflict, and the
// Store computes it again from the newer record (retry). New records
// compare a create revision of 0: a job id, a submission key, a subjob's
// start or a queue name is taken once cluster-wide. A submission compares
// its queue's revision (no queue change between its check and its commit);
// a queue's deletion compares the create revisions of all jobs (none
// submitted that its check did not see).
//
// The view is kept by one watcher goroutine (owned by the store, ended by
// Close) that applies the prefix's events in revision order, from the
// revision the view was loaded at; a write returns once the view has
// reached its revision. A watch that cannot resume because etcd compacted
// the revisions it needs reloads the whole view.
//
// Outcome of a failed write: an error from etcd (lost quorum, timeout)
// means the change was not acknowledged; like any etcd client's, such a
// change may still commit if the cluster recovers with it in its log. A
// retried submission with its key (SubmitOnce) finds it then.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"lazarus/jobs"
)

// EtcdOptions tune OpenEtcd.
type EtcdOptions struct {
	// Logger, Account and Accounted as for Open (LockTimeout is unused).
	Options
	// SpoolDir holds scripts and environments: a directory every node of
	// the cluster reads and writes (created if needed). Required.
	SpoolDir string
	// Timeout bounds each etcd request; default 15 seconds. A write that
	// cannot commit in that time (no quorum) fails with ErrWrite.
	Timeout time.Duration
	// IDBlock is how many job ids a store reserves at once; default 1:
	// ids then follow the order of submissions across nodes, at the cost
	// of one etcd transaction per id.
	IDBlock int
}

// etcd's default limits (--max-txn-ops, --max-request-bytes): a change
// that needs more is refused with ErrTooLarge rather than sent.
const (
	etcdMaxTxnOps = 128
	etcdMaxBytes  = 1 << 20 // of the 1.5 MiB etcd accepts, leaving room for framing
	etcdPage      = 1000    // records per read while loading
)

// etcd key names, under the prefix.
const (
	etcdMeta        = "/meta/"
	etcdSchemaKey   = etcdMeta + "schema_version"
	etcdLastIDKey   = etcdMeta + "last_id"
	etcdJobs        = "/jobs/"
	etcdQueues      = "/queues/"
	etcdSubmissions = "/submissions/"
	etcdSubmitKeys  = "/submission_keys/"
	etcdAccounting  = "/accounting/"
)

type etcdStore struct {
	s       *Store
	cl      *clientv3.Client
	prefix  string
	spool   string
	timeout time.Duration
	inst    string        // this store's name among the outbox's writers
	acctN   atomic.Uint64 // its outbox keys, numbered

	mu        sync.Mutex // guards what follows, and every write to the view
	applied   int64      // the revision the view is at
	advanced  chan struct{}
	jobRevs   map[jobs.ID]etcdRev
	queueRevs map[string]etcdRev
	// Arrays (etcd_array.go): the mod revision of each one's starts key,
	// and the state bytes its record has (the view's add the overlay).
	startRevs    map[jobs.ID]int64
	storedStates map[jobs.ID]string
	// pending are the objects of this store's writes in flight, by key:
	// the watcher puts them in the view instead of decoding their event
	// (when its value is theirs), so that a write's caller and the view
	// share one object, as on bbolt.
	pending map[string]pendingPut

	// Group commit (etcd_batch.go): the writes waiting, and whether a
	// leader is committing.
	batchMu    sync.Mutex
	batchQueue []*etcdTxn
	batchBusy  bool
	leadHook   func() // tests: run by a leader before it commits what it took
	// Writes committed by commit, and the transactions they took.
	writes, groups atomic.Int64

	idMu          sync.Mutex
	idNext, idEnd uint64 // reserved and not yet handed out: idNext..idEnd
	idBlock       uint64
	idWaiting     atomic.Int64 // callers of nextID waiting for idMu

	ctx      context.Context // ends with the store
	cancel   context.CancelFunc
	watchCtx context.Context // the watch's (RequestProgress finds its stream by it)
	done     chan struct{}   // closed when the watcher has ended
	reloads  atomic.Int32    // of the view after a compaction
}

type pendingPut struct {
	data []byte
	obj  any
}

// etcdRev is the mod revision of the record the view holds for a key.
type etcdRev struct {
	obj any // *jobs.Job or *Queue: the view's object for that revision
	rev int64
}

// etcdAcct is one change's accounting records; N of record i is its
// key's create revision (the commit order) << 20 | (First+i).
type etcdAcct struct {
	First int      `json:"first,omitempty"`
	Lines []string `json:"lines"`
}

const acctShift = 20

// OpenEtcd opens the store kept in etcd under prefix (created there if
// new) and loads the view; several stores (one per node) may use the same
// prefix at once. The client stays the caller's: Close does not close it.
func OpenEtcd(ctx context.Context, cl *clientv3.Client, prefix string, opts EtcdOptions) (s *Store, retErr error) {
	prefix = strings.TrimRight(prefix, "/")
	if prefix == "" || !strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("etcd prefix %q: want an absolute key path such as /lazarus", prefix)
	}
	if opts.SpoolDir == "" {
		return nil, errors.New("etcd store: no shared spool directory")
	}
	if err := os.MkdirAll(opts.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd store spool: %w", err)
	}
	s, err := newStore(opts.Logger, opts.Options)
	if err != nil {
		return nil, err
	}
	var inst [8]byte
	if _, err := rand.Read(inst[:]); err != nil {
		return nil, err
	}
	e := &etcdStore{s: s, cl: cl, prefix: prefix, spool: opts.SpoolDir, timeout: opts.Timeout,
		inst: hex.EncodeToString(inst[:]), advanced: make(chan struct{}), pending: map[string]pendingPut{}, idBlock: uint64(max(opts.IDBlock, 1)),
		done: make(chan struct{})}
	if e.timeout <= 0 {
		e.timeout = 15 * time.Second
	}
	if err := e.checkSchema(ctx); err != nil {
		return nil, fmt.Errorf("open etcd store %s: %w", prefix, err)
	}
	if err := e.load(ctx, true); err != nil {
		return nil, fmt.Errorf("open etcd store %s: %w", prefix, err)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.watchCtx = clientv3.WithRequireLeader(e.ctx)
	s.be = e
	go e.watch()
	return s, nil
}

// checkSchema writes the layout version of a new prefix, migrates an
// older one (etcdMigrations, in order), and refuses one written by a newer
// lazarusd.
func (e *etcdStore) checkSchema(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	k := e.prefix + etcdSchemaKey
	for {
		r, err := e.cl.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
			Then(clientv3.OpPut(k, strconv.Itoa(etcdSchemaVersion))).Else(clientv3.OpGet(k)).Commit()
		if err != nil {
			return e.etcdErr(err)
		}
		if r.Succeeded {
			return nil
		}
		kvs := r.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return errors.New("schema version vanished")
		}
		found, err := strconv.Atoi(string(kvs[0].Value))
		if err != nil {
			return fmt.Errorf("schema version %q: %w", kvs[0].Value, err)
		}
		if found > etcdSchemaVersion {
			return fmt.Errorf("schema version %d, this lazarusd knows up to %d: %w", found, etcdSchemaVersion, ErrNewerSchema)
		}
		if found == etcdSchemaVersion {
			return nil
		}
		i := slices.IndexFunc(etcdMigrations, func(m struct {
			from, to int
			ops      func(*etcdStore) []clientv3.Op
		}) bool {
			return m.from == found
		})
		if i < 0 {
			return fmt.Errorf("schema version %d: no migration from it", found)
		}
		m := etcdMigrations[i]
		ops := append(m.ops(e), clientv3.OpPut(k, strconv.Itoa(m.to)))
		if _, err := e.cl.Txn(ctx).If(clientv3.Compare(clientv3.Value(k), "=", strconv.Itoa(found))).
			Then(ops...).Commit(); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", m.from, m.to, e.etcdErr(err))
		}
		// Migrated, or another store did meanwhile: read it again.
		e.s.log.Info("etcd store migrated", "from", m.from, "to", m.to)
	}
}

// load replaces the view with the records at etcd's current revision,
// read in pages of one snapshot (WithRev).
func (e *etcdStore) load(ctx context.Context, first bool) error {
	s := e.s
	// As bbolt's load: most of what is allocated here is kept.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	ctx, cancel := context.WithTimeout(ctx, 10*e.timeout)
	defer cancel()
	var recs []record
	var rev int64
	jobsKey := e.prefix + etcdJobs
	from, end := jobsKey, clientv3.GetPrefixRangeEnd(jobsKey)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(etcdPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		r, err := e.cl.Get(ctx, from, opts...)
		if err != nil {
			return e.etcdErr(err)
		}
		if rev == 0 {
			rev = r.Header.Revision
		}
		for _, kv := range r.Kvs {
			id, err := strconv.ParseUint(strings.TrimPrefix(string(kv.Key), jobsKey), 16, 64)
			if err != nil {
				if first {
					s.unreadable++
				}
				s.log.Error("unreadable job key, skipped", "key", string(kv.Key), "error", err)
				continue
			}
			recs = append(recs, record{id: id, val: kv.Value, rev: kv.ModRevision})
		}
		if !r.More || len(r.Kvs) == 0 {
			break
		}
		from = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
	decodeRecords(recs)
	qr, err := e.cl.Get(ctx, e.prefix+etcdQueues, clientv3.WithPrefix(), clientv3.WithRev(rev))
	if err != nil {
		return e.etcdErr(err)
	}
	sr, err := e.cl.Get(ctx, e.prefix+etcdStarts, clientv3.WithPrefix(), clientv3.WithRev(rev))
	if err != nil {
		return e.etcdErr(err)
	}
	startRevs := map[jobs.ID]int64{}
	for _, kv := range sr.Kvs {
		id, err := strconv.ParseUint(strings.TrimPrefix(string(kv.Key), e.prefix+etcdStarts), 16, 64)
		if err != nil {
			s.log.Error("unreadable starts key, skipped", "key", string(kv.Key), "error", err)
			continue
		}
		startRevs[jobs.ID(id)] = kv.ModRevision
	}
	// The overlay (etcd_array.go): arrays sort before subjobs, whose
	// records show as SubRecord in their array's fresh objects.
	storedStates := map[jobs.ID]string{}
	arrays := map[jobs.ID]*jobs.Job{}
	for _, r := range recs {
		switch {
		case r.err != nil:
		case r.job.Array != nil && !r.job.ID.IsSubjob():
			storedStates[r.job.ID] = string(r.job.Array.States)
			arrays[r.job.ID] = r.job
		case r.job.ID.IsSubjob():
			a := arrays[r.job.ID.Base()]
			if a == nil {
				continue
			}
			if pos, ok := a.Array.Pos(r.job.ID.Index()); ok && a.Array.States[pos] == jobs.SubQueued {
				a.Array.States[pos] = jobs.SubRecord
			}
		}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	txn := s.mem.Txn(true)
	defer txn.Abort()
	if _, err := txn.DeleteAll(tableJobs, indexID); err != nil {
		return err
	}
	if _, err := txn.DeleteAll(tableQueues, indexID); err != nil {
		return err
	}
	jobRevs := make(map[jobs.ID]etcdRev, len(recs))
	for _, r := range recs {
		if r.err != nil {
			if first {
				s.unreadable++
			}
			s.log.Error("unreadable job record, skipped", "job_id", r.id, "error", r.err)
			continue
		}
		if err := txn.Insert(tableJobs, r.job); err != nil {
			return err
		}
		jobRevs[r.job.ID] = etcdRev{r.job, r.rev}
	}
	queueRevs := map[string]etcdRev{}
	for _, kv := range qr.Kvs {
		q, err := e.decodeQueue(kv.Key, kv.Value)
		if err != nil {
			if first {
				s.unreadable++
			}
			s.log.Error("unreadable queue record, skipped", "key", string(kv.Key), "error", err)
			continue
		}
		if err := txn.Insert(tableQueues, q); err != nil {
			return err
		}
		queueRevs[q.Name] = etcdRev{q, kv.ModRevision}
	}
	txn.Commit()
	e.jobRevs, e.queueRevs = jobRevs, queueRevs
	e.startRevs, e.storedStates = startRevs, storedStates
	e.advance(rev)
	return nil
}

func (e *etcdStore) decodeQueue(key, val []byte) (*Queue, error) {
	name := strings.TrimPrefix(string(key), e.prefix+etcdQueues)
	var d diskQueue
	if err := json.Unmarshal(val, &d); err != nil {
		return nil, err
	}
	if d.Name != name {
		return nil, fmt.Errorf("record of queue %q under key %q", d.Name, name)
	}
	return d.queue(), nil
}

// advance moves the view's revision forward and wakes its waiters; e.mu
// is held.
func (e *etcdStore) advance(rev int64) {
	if rev <= e.applied {
		return
	}
	e.applied = rev
	close(e.advanced)
	e.advanced = make(chan struct{})
}

// watch is the watcher goroutine: it applies the prefix's changes to the
// view until Close, resuming after errors and reloading after compaction.
func (e *etcdStore) watch() {
	defer close(e.done)
	log := e.s.log
	backoff := 100 * time.Millisecond
	for e.ctx.Err() == nil {
		e.mu.Lock()
		from := e.applied + 1
		e.mu.Unlock()
		// A context of its own ends this watch when the loop leaves it
		// (it stays on the stream RequestProgress finds by watchCtx).
		wctx, wcancel := context.WithCancel(e.watchCtx)
		wch := e.cl.Watch(wctx, e.prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(from),
			clientv3.WithProgressNotify())
		reload := false
		for resp := range wch {
			if resp.CompactRevision != 0 {
				log.Warn("etcd compacted past the view's revision; reloading the view", "revision", from, "compacted", resp.CompactRevision)
				reload = true
				break
			}
			if err := resp.Err(); err != nil {
				if e.ctx.Err() == nil {
					log.Warn("etcd watch ended; resuming", "error", err)
				}
				break
			}
			backoff = 100 * time.Millisecond
			if resp.IsProgressNotify() {
				e.mu.Lock()
				e.advance(resp.Header.Revision)
				e.mu.Unlock()
				continue
			}
			e.apply(resp.Events)
		}
		wcancel()
		for reload && e.ctx.Err() == nil {
			err := e.load(e.ctx, false)
			if err == nil {
				e.reloads.Add(1)
				break
			}
			log.Error("reload of the view failed", "error", err)
			e.sleep(&backoff)
		}
		if !reload {
			e.sleep(&backoff)
		}
	}
}

func (e *etcdStore) sleep(backoff *time.Duration) {
	select {
	case <-e.ctx.Done():
	case <-time.After(*backoff):
	}
	*backoff = min(2**backoff, 2*time.Second)
}

// apply applies one watch response's events to the view, in one memdb
// transaction.
func (e *etcdStore) apply(evs []*clientv3.Event) {
	if len(evs) == 0 {
		return
	}
	s := e.s
	jobsKey, queuesKey, startsKey := e.prefix+etcdJobs, e.prefix+etcdQueues, e.prefix+etcdStarts
	e.mu.Lock()
	defer e.mu.Unlock()
	txn := s.mem.Txn(true)
	for _, ev := range evs {
		key := string(ev.Kv.Key)
		del := ev.Type == clientv3.EventTypeDelete
		switch {
		case strings.HasPrefix(key, jobsKey):
			id, err := strconv.ParseUint(strings.TrimPrefix(key, jobsKey), 16, 64)
			if err != nil {
				s.log.Error("unreadable job key, skipped", "key", key, "error", err)
				continue
			}
			if old, ok := e.jobRevs[jobs.ID(id)]; ok {
				if err := txn.Delete(tableJobs, old.obj); err != nil && !errors.Is(err, memdb.ErrNotFound) {
					s.log.Error("store view update failed", "job_id", id, "error", err)
				}
				delete(e.jobRevs, jobs.ID(id))
			}
			if del {
				delete(e.storedStates, jobs.ID(id))
				continue
			}
			j, ok := e.pendingObj(key, ev.Kv.Value).(*jobs.Job)
			if !ok {
				j, err = decodeJob(id, ev.Kv.Value)
			}
			if err == nil {
				j, err = e.noteArray(txn, j)
			}
			if err != nil {
				s.log.Error("unreadable job record, skipped", "job_id", id, "error", err)
				continue
			}
			if err := txn.Insert(tableJobs, j); err != nil {
				s.log.Error("store view update failed", "job_id", id, "error", err)
				continue
			}
			e.jobRevs[j.ID] = etcdRev{j, ev.Kv.ModRevision}
			if j.ID.IsSubjob() {
				if err := e.overlayStart(txn, j.ID); err != nil {
					s.log.Error("store view update failed", "job_id", id, "error", err)
				}
			}
		case strings.HasPrefix(key, startsKey):
			e.applyStarts(ev)
		case strings.HasPrefix(key, queuesKey):
			name := strings.TrimPrefix(key, queuesKey)
			if old, ok := e.queueRevs[name]; ok {
				if err := txn.Delete(tableQueues, old.obj); err != nil && !errors.Is(err, memdb.ErrNotFound) {
					s.log.Error("store view update failed", "queue", name, "error", err)
				}
				delete(e.queueRevs, name)
			}
			if del {
				continue
			}
			q, ok := e.pendingObj(key, ev.Kv.Value).(*Queue)
			var err error
			if !ok {
				q, err = e.decodeQueue(ev.Kv.Key, ev.Kv.Value)
			}
			if err != nil {
				s.log.Error("unreadable queue record, skipped", "queue", name, "error", err)
				continue
			}
			if err := txn.Insert(tableQueues, q); err != nil {
				s.log.Error("store view update failed", "queue", name, "error", err)
				continue
			}
			e.queueRevs[name] = etcdRev{q, ev.Kv.ModRevision}
		}
	}
	txn.Commit()
	e.advance(evs[len(evs)-1].Kv.ModRevision)
}

// pendingObj returns the object of this store's write of val under key,
// or nil; e.mu is held.
func (e *etcdStore) pendingObj(key string, val []byte) any {
	p, ok := e.pending[key]
	if !ok || !bytes.Equal(p.data, val) {
		return nil
	}
	return p.obj
}

// setPending registers (or with obj nil, forgets) the object of a write.
func (e *etcdStore) setPending(key string, data []byte, obj any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if obj == nil {
		delete(e.pending, key)
		return
	}
	e.pending[key] = pendingPut{data, obj}
}

// waitView waits until the view has reached revision rev.
func (e *etcdStore) waitView(rev int64) error {
	deadline := time.NewTimer(e.timeout)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		ok, ch := e.applied >= rev, e.advanced
		e.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-time.After(200 * time.Millisecond):
			// A watch that has delivered every event says so only when
			// asked (or every few minutes).
			e.cl.RequestProgress(e.watchCtx)
		case <-deadline.C:
			return fmt.Errorf("the view did not reach etcd revision %d in %v", rev, e.timeout)
		case <-e.ctx.Done():
			return ErrClosed
		}
	}
}

func (e *etcdStore) revision() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.applied
}

// jobRev returns the mod revision of the view's record of a job, if the
// view still holds obj for it.
func (e *etcdStore) jobRev(id jobs.ID, obj *jobs.Job) (int64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.jobRevs[id]
	return r.rev, ok && r.obj == obj
}

func (e *etcdStore) queueRev(name string, obj *Queue) (int64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.queueRevs[name]
	return r.rev, ok && r.obj == obj
}

func (e *etcdStore) jobKey(id jobs.ID) string {
	return fmt.Sprintf("%s%s%016x", e.prefix, etcdJobs, uint64(id))
}

func (e *etcdStore) submitKeysKey(id jobs.ID) string {
	return fmt.Sprintf("%s%s%016x", e.prefix, etcdSubmitKeys, uint64(id))
}

func (e *etcdStore) submissionKey(subKey []byte) string {
	return e.prefix + etcdSubmissions + hex.EncodeToString(subKey)
}

func (e *etcdStore) close() error {
	e.cancel()
	<-e.done
	return nil
}

func (e *etcdStore) reqCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, e.timeout)
}

// nextID hands out a reserved id, reserving a block when none is left by
// a compare-and-swap of the counter: IDBlock ids, or as many as there are
// callers waiting (they take them in turn: one transaction for a burst of
// submissions, and ids still in the order they were asked for).
func (e *etcdStore) nextID() (jobs.ID, error) {
	e.idWaiting.Add(1)
	e.idMu.Lock()
	defer e.idMu.Unlock()
	e.idWaiting.Add(-1)
	if e.ctx.Err() != nil {
		return 0, ErrClosed
	}
	if e.idNext != 0 && e.idNext <= e.idEnd {
		id := e.idNext
		e.idNext++
		return jobs.ID(id), nil
	}
	ctx, cancel := e.reqCtx()
	defer cancel()
	k := e.prefix + etcdLastIDKey
	for {
		r, err := e.cl.Get(ctx, k)
		if err != nil {
			if e.pause(ctx, err) {
				continue
			}
			return 0, e.etcdErr(err)
		}
		var last uint64
		var rev int64
		if len(r.Kvs) == 1 {
			if last, err = strconv.ParseUint(string(r.Kvs[0].Value), 10, 64); err != nil {
				return 0, fmt.Errorf("job id counter %q: %w", r.Kvs[0].Value, err)
			}
			rev = r.Kvs[0].ModRevision
		}
		end := last + max(e.idBlock, uint64(1+e.idWaiting.Load()))
		if jobs.ID(end).IsSubjob() {
			return 0, errors.New("job ids exhausted")
		}
		t, err := e.cl.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", rev)).
			Then(clientv3.OpPut(k, strconv.FormatUint(end, 10))).Commit()
		if err != nil {
			if e.pause(ctx, err) {
				continue // if it committed, the compare fails and ids are skipped
			}
			return 0, e.etcdErr(err)
		}
		if t.Succeeded {
			e.idNext, e.idEnd = last+2, end
			return jobs.ID(last + 1), nil
		}
	}
}

func (e *etcdStore) submitted(subKey []byte) (jobs.ID, error) {
	ctx, cancel := e.reqCtx()
	defer cancel()
	r, err := e.cl.Get(ctx, e.submissionKey(subKey))
	if err != nil {
		return 0, e.etcdErr(err)
	}
	if len(r.Kvs) == 0 {
		return 0, nil
	}
	id, err := strconv.ParseUint(string(r.Kvs[0].Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("submission key %s: %w", r.Kvs[0].Key, err)
	}
	// The job may be another node's, just submitted: the caller finds it
	// in the view.
	if err := e.waitView(r.Kvs[0].ModRevision); err != nil {
		e.s.log.Warn("submitted job not yet in the view", "job_id", id, "error", err)
	}
	return jobs.ID(id), nil
}

func (e *etcdStore) blob(bucket []byte, id jobs.ID) ([]byte, error) {
	script, env, err := readSpool(e.spool, id)
	if string(bucket) == string(bucketEnv) {
		return env, err
	}
	return script, err
}

// etcdErr says what an error of an etcd request means.
func (e *etcdStore) etcdErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("etcd: no answer in %v (unreachable, or no quorum): %w", e.timeout, err)
	}
	return fmt.Errorf("etcd: %w", err)
}
