package queue

// Writes to etcd: a change becomes one etcd transaction (etcdTxn), built
// from the view's mod revisions, and concurrent changes are committed in
// groups (etcd_batch.go).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"lazarus/jobs"
)

// etcdTxn is a write being built, then committed (alone or in a group)
// by commit, which fills in out.
type etcdTxn struct {
	cmps    []clientv3.Cmp
	ops     []clientv3.Op
	elses   []clientv3.Op // the witnesses' reads, when the compares fail
	witness []witness     // the records it changes, as it leaves them
	files   []spoolFile   // written before the commit
	removed []jobs.ID     // whose spool files go after it
	acct    []string
	acctKey string // its outbox key, when acct has records
	size    int
	objs    []keyedPut // the view's objects of the puts of records
	keys    []string   // every key it puts or deletes

	lead chan bool // commit: true, lead the next group; false, out is set
	out  txnOutcome
}

// txnOutcome is what etcd answered to one write.
type txnOutcome struct {
	ok    bool                       // its compares held (or an earlier attempt committed)
	elses []*etcdserverpb.ResponseOp // otherwise, the witnesses as they are
	rev   int64                      // the revision of the answer
	err   error                      // no answer: the write was not acknowledged
}

// witness is a record as a transaction leaves it: read back after its
// compares failed, it tells whether an earlier attempt committed (or a
// new job's id is taken).
type witness struct {
	key     string
	data    []byte
	deleted bool
	newJob  jobs.ID // a new job's record: its id
}

type keyedPut struct {
	key  string
	data []byte
	obj  any
}

func (t *etcdTxn) put(k string, v []byte) {
	t.ops = append(t.ops, clientv3.OpPut(k, string(v)))
	t.keys = append(t.keys, k)
	t.size += len(k) + len(v)
}

func (t *etcdTxn) del(k string) {
	t.ops = append(t.ops, clientv3.OpDelete(k))
	t.keys = append(t.keys, k)
	t.size += len(k)
}

func (t *etcdTxn) cmp(c clientv3.Cmp) {
	t.cmps = append(t.cmps, c)
	t.size += len(c.KeyBytes()) + 16
}

func modRev(k string, rev int64) clientv3.Cmp {
	return clientv3.Compare(clientv3.ModRevision(k), "=", rev)
}

func absent(k string) clientv3.Cmp { return clientv3.Compare(clientv3.CreateRevision(k), "=", 0) }

// acctOverhead bounds the bytes of an outbox record beyond its lines
// (key, JSON framing, its First).
const acctOverhead = 128

func (e *etcdStore) write(ops []op) error {
	ctx, cancel := e.reqCtx()
	defer cancel()
	t := &etcdTxn{}
	for _, o := range ops {
		if err := e.build(ctx, t, o); err != nil {
			return err
		}
	}
	nops := len(t.ops)
	if len(t.acct) > 0 {
		// The record itself is made by commit, which numbers the records
		// of the writes it commits together (etcdAcct.First).
		t.acctKey = fmt.Sprintf("%s%s%s/%016x", e.prefix, etcdAccounting, e.inst, e.acctN.Add(1))
		t.keys = append(t.keys, t.acctKey)
		t.size += len(t.acctKey) + acctOverhead
		for _, l := range t.acct {
			t.size += len(l) + 8
		}
		nops++
	}
	if nops > etcdMaxTxnOps || len(t.cmps) > etcdMaxTxnOps || t.size > etcdMaxBytes {
		return fmt.Errorf("%d operations, %d bytes: %w", nops, t.size, ErrTooLarge)
	}
	if err := writeSpool(e.spool, t.files); err != nil {
		return err
	}
	for _, p := range t.objs {
		e.setPending(p.key, p.data, p.obj)
		defer e.setPending(p.key, nil, nil)
	}
	t.elses = make([]clientv3.Op, len(t.witness))
	for i, w := range t.witness {
		t.elses[i] = clientv3.OpGet(w.key)
	}
	out := e.commit(t)
	if out.err != nil {
		// Not acknowledged; the spool files stay, for the change may
		// still commit (see the top of etcd.go).
		return e.etcdErr(out.err)
	}
	if !out.ok {
		return e.failed(t, out)
	}
	if err := e.waitView(out.rev); err != nil {
		// Committed: not an error of the change, which the view shows as
		// soon as its watch catches up.
		e.s.log.Warn("change committed, view behind", "error", err)
	}
	for _, id := range t.removed {
		removeSpool(e.s.log, e.spool, id)
	}
	if len(t.acct) > 0 && e.s.accounted != nil {
		e.s.accounted()
	}
	return nil
}

// pause waits a moment after a transient error and says whether to try
// again.
func (e *etcdStore) pause(ctx context.Context, err error) bool {
	if !transient(err) {
		return false
	}
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
	}
	return ctx.Err() == nil
}

// transient says whether an etcd error may go away by itself (a leader
// election, a lost connection): the write is tried again.
func transient(err error) bool {
	for _, e := range []error{rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrLeaderChanged, rpctypes.ErrNoLeader,
		rpctypes.ErrTimeoutDueToConnectionLost, rpctypes.ErrStopped, rpctypes.ErrTimeout, rpctypes.ErrTooManyRequests} {
		if errors.Is(err, e) {
			return true
		}
	}
	return status.Code(err) == codes.Unavailable
}

// committed says whether a transaction whose compares failed finds every
// record as it would have left it: an earlier attempt of it committed.
func (t *etcdTxn) committed(elses []*etcdserverpb.ResponseOp) bool {
	for i, w := range t.witness {
		kvs := elses[i].GetResponseRange().Kvs
		if w.deleted != (len(kvs) == 0) || !w.deleted && !bytes.Equal(kvs[0].Value, w.data) {
			return false
		}
	}
	return len(t.witness) > 0
}

// failed is the error of a transaction whose compares failed.
func (e *etcdStore) failed(t *etcdTxn, r txnOutcome) error {
	// A new job whose key exists already keeps its files; the others'
	// files were never referenced.
	var exists error
	for i, w := range t.witness {
		if w.newJob == 0 || w.newJob.IsSubjob() {
			// A subjob started elsewhere meanwhile is a conflict: the
			// retry finds it started (ErrNotQueued).
			continue
		}
		if len(r.elses[i].GetResponseRange().Kvs) > 0 {
			exists = fmt.Errorf("job %d: %w", w.newJob, ErrJobExists)
			continue
		}
		removeSpool(e.s.log, e.spool, w.newJob)
	}
	if exists != nil {
		return exists
	}
	if err := e.waitView(r.rev); err != nil {
		return err
	}
	return errConflict
}

// build adds one op to a transaction.
func (e *etcdStore) build(ctx context.Context, t *etcdTxn, o op) error {
	switch o := o.(type) {
	case putJob:
		if o.started != 0 {
			return e.buildArrayStart(t, o)
		}
		id := o.job.ID
		if o.job.Array != nil && !id.IsSubjob() {
			if err := e.buildArrayGuard(t, id, o.old); err != nil {
				return err
			}
		}
		k := e.jobKey(id)
		w := witness{key: k, data: o.data}
		if o.old == nil {
			t.cmp(absent(k))
			w.newJob = id
		} else {
			rev, ok := e.jobRev(id, o.old)
			if !ok {
				return errConflict // the view has a newer record already
			}
			t.cmp(modRev(k, rev))
		}
		if o.queue != nil {
			rev, ok := e.queueRev(o.queue.Name, o.queue)
			if !ok {
				return errConflict
			}
			t.cmp(modRev(e.prefix+etcdQueues+o.queue.Name, rev))
		}
		t.put(k, o.data)
		t.witness = append(t.witness, w)
		t.objs = append(t.objs, keyedPut{k, o.data, o.job})
		if o.script != nil || o.env != nil { // both, in one file (only submissions have them)
			t.files = append(t.files, spoolFile{spoolPath(e.spool, id), encodeSpool(o.script, o.env)})
		}
		if o.subKey != nil {
			sk := e.submissionKey(o.subKey)
			t.cmp(absent(sk))
			t.put(sk, []byte(strconv.FormatUint(uint64(id), 10)))
			t.put(e.submitKeysKey(id), []byte(sk))
		}
		t.acct = append(t.acct, o.acct...)
	case deleteJob:
		id := o.job.ID
		switch {
		case id.IsSubjob():
			if err := e.buildSubjobRemoval(t, id); err != nil {
				return err
			}
		case o.job.Array != nil:
			if err := e.buildArrayGuard(t, id, o.job); err != nil {
				return err
			}
			t.del(e.startsKey(id))
		}
		k := e.jobKey(id)
		rev, ok := e.jobRev(id, o.job)
		if !ok {
			return errConflict
		}
		t.cmp(modRev(k, rev))
		// The job's submission key expires with it.
		rk := e.submitKeysKey(id)
		r, err := e.cl.Get(ctx, rk)
		if err != nil {
			return e.etcdErr(err)
		}
		if len(r.Kvs) == 1 {
			t.cmp(modRev(rk, r.Kvs[0].ModRevision))
			t.del(string(r.Kvs[0].Value))
			t.del(rk)
		} else {
			t.cmp(absent(rk))
		}
		t.del(k)
		t.witness = append(t.witness, witness{key: k, deleted: true})
		if !id.IsSubjob() {
			t.removed = append(t.removed, id)
		}
		t.acct = append(t.acct, o.acct...)
	case putQueue:
		k := e.prefix + etcdQueues + o.q.Name
		if o.old == nil {
			t.cmp(absent(k))
		} else {
			rev, ok := e.queueRev(o.q.Name, o.old)
			if !ok {
				return errConflict
			}
			t.cmp(modRev(k, rev))
		}
		t.put(k, o.data)
		t.witness = append(t.witness, witness{key: k, data: o.data})
		t.objs = append(t.objs, keyedPut{k, o.data, o.q})
	case deleteQueue:
		k := e.prefix + etcdQueues + o.q.Name
		rev, ok := e.queueRev(o.q.Name, o.q)
		if !ok {
			return errConflict
		}
		t.cmp(modRev(k, rev))
		if o.rev > 0 {
			t.cmp(clientv3.Compare(clientv3.CreateRevision(e.prefix+etcdJobs), "<", o.rev+1).WithPrefix())
		}
		t.del(k)
		t.witness = append(t.witness, witness{key: k, deleted: true})
	default:
		return fmt.Errorf("etcd store: %T is not an etcd change", o)
	}
	return nil
}
