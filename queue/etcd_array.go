package queue

// Subjob starts on etcd (layout 6). An array's record holds one state
// byte per subjob (diskArray); rewriting it at each subjob's start would
// write about 100 kB per start at 100,000 subjobs. Instead a start writes
// the subjob's record and the array's small starts key
// (<prefix>/array_starts/<array id>: the index of the subjob started
// last), and leaves the array's record alone. Its byte stays SubQueued in
// the record; the view shows SubRecord for every subjob whose stored byte
// is SubQueued and that has a record (the overlay). The next write of the
// array's record stores the view's bytes, overlay included.
//
// A start compares the array record's and the starts key's mod revisions
// with the view's; so does every write of the array's record (and its
// deletion): a change of the array computed from a view that missed a
// start elsewhere fails as a conflict, as when starts rewrote the record.
// The removal of a subjob record whose byte is only in the overlay also
// stores the array's record (with SubRecord there), so that the byte does
// not fall back to SubQueued: the array's next sync makes it SubDeleted.
//
// Layout 5 had SubRecord stored at every start: such records read the
// same under the overlay, so the migration to 6 only writes the version;
// a lazarusd of layout 5 refuses the prefix after it (it would take the
// started subjobs for queued ones).

import (
	"fmt"
	"strconv"

	memdb "github.com/hashicorp/go-memdb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"lazarus/jobs"
)

// etcdSchemaVersion is the etcd layout this code reads and writes.
const etcdSchemaVersion = 6

const etcdStarts = "/array_starts/"

// etcdMigrations bring a prefix from one layout to the next, in order.
// Each is one transaction that also moves the version from its from to
// its to (compared): two stores opening at once migrate once.
var etcdMigrations = []struct {
	from, to int
	ops      func(e *etcdStore) []clientv3.Op
}{
	// 5 → 6: starts only in the overlay. Stored SubRecord bytes stay
	// valid: nothing to convert.
	{5, 6, func(*etcdStore) []clientv3.Op { return nil }},
}

func (e *etcdStore) startsKey(id jobs.ID) string {
	return fmt.Sprintf("%s%s%016x", e.prefix, etcdStarts, uint64(id))
}

// arrayRevs returns the mod revisions of the view's record of array id
// and of its starts key (0: none), if the view still holds obj for it.
func (e *etcdStore) arrayRevs(id jobs.ID, obj *jobs.Job) (rev, starts int64, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.jobRevs[id]
	return r.rev, e.startRevs[id], ok && r.obj == obj
}

// overlaid says whether subjob index of array a shows SubRecord only by
// the overlay (its stored byte is SubQueued); e.mu is held.
func (e *etcdStore) overlaid(a *jobs.Job, index int) bool {
	st, ok := e.storedStates[a.ID]
	if !ok || a.Array == nil {
		return false
	}
	pos, ok := a.Array.Pos(index)
	return ok && pos < len(st) && st[pos] == jobs.SubQueued && a.Array.States[pos] == jobs.SubRecord
}

// overlayStart shows in the view that subjob sub, whose record the view
// has just got, has started; e.mu is held, txn is the view's.
func (e *etcdStore) overlayStart(txn *memdb.Txn, sub jobs.ID) error {
	a := sub.Base()
	r, ok := e.jobRevs[a]
	if !ok {
		return nil
	}
	aj := r.obj.(*jobs.Job)
	st, ok := e.storedStates[a]
	if !ok || aj.Array == nil {
		return nil
	}
	pos, ok := aj.Array.Pos(sub.Index())
	if !ok || pos >= len(st) || st[pos] != jobs.SubQueued || aj.Array.States[pos] != jobs.SubQueued {
		return nil
	}
	nj := aj.Copy() // the view's objects are never changed
	nj.Array.States[pos] = jobs.SubRecord
	if err := txn.Delete(tableJobs, aj); err != nil {
		return err
	}
	if err := txn.Insert(tableJobs, nj); err != nil {
		return err
	}
	e.jobRevs[a] = etcdRev{nj, r.rev}
	return nil
}

// noteArray records the stored bytes of a job's record that the view is
// about to get, and returns the object to insert: j, or a copy of it with
// the overlay of the subjob records txn has; e.mu is held.
func (e *etcdStore) noteArray(txn *memdb.Txn, j *jobs.Job) (*jobs.Job, error) {
	if j.Array == nil || j.ID.IsSubjob() {
		return j, nil
	}
	st := string(j.Array.States)
	e.storedStates[j.ID] = st
	it, err := txn.LowerBound(tableJobs, indexID, jobs.SubjobID(j.ID, 0))
	if err != nil {
		return nil, err
	}
	copied := false
	for raw := it.Next(); raw != nil; raw = it.Next() {
		s := raw.(*jobs.Job)
		if !s.ID.IsSubjob() || s.ID.Base() != j.ID {
			break
		}
		pos, ok := j.Array.Pos(s.ID.Index())
		if !ok || st[pos] != jobs.SubQueued {
			continue
		}
		if !copied {
			j, copied = j.Copy(), true
		}
		j.Array.States[pos] = jobs.SubRecord
	}
	return j, nil
}

// applyStarts applies an event of a starts key; e.mu is held.
func (e *etcdStore) applyStarts(ev *clientv3.Event) {
	key := string(ev.Kv.Key)
	id, err := strconv.ParseUint(key[len(e.prefix+etcdStarts):], 16, 64)
	if err != nil {
		e.s.log.Error("unreadable starts key, skipped", "key", key, "error", err)
		return
	}
	if ev.Type == clientv3.EventTypeDelete {
		delete(e.startRevs, jobs.ID(id))
		return
	}
	e.startRevs[jobs.ID(id)] = ev.Kv.ModRevision
}

// buildArrayStart adds to t the part of a subjob's start that concerns
// its array (o, the array's putJob): compares, and its starts key.
func (e *etcdStore) buildArrayStart(t *etcdTxn, o putJob) error {
	id := o.job.ID
	rev, starts, ok := e.arrayRevs(id, o.old)
	if !ok {
		return errConflict
	}
	t.cmp(modRev(e.jobKey(id), rev))
	sk := e.startsKey(id)
	t.cmp(modRev(sk, starts))
	t.put(sk, []byte(strconv.Itoa(o.started.Index())))
	t.acct = append(t.acct, o.acct...)
	return nil
}

// buildArrayGuard adds to t, which writes or deletes array id's record
// computed from the view's obj (nil: a new array), the compare of its
// starts key: no subjob started meanwhile that the change did not see.
func (e *etcdStore) buildArrayGuard(t *etcdTxn, id jobs.ID, obj *jobs.Job) error {
	sk := e.startsKey(id)
	t.keys = append(t.keys, sk) // never in a group with a start of it
	if obj == nil {
		t.cmp(absent(sk))
		return nil
	}
	_, starts, ok := e.arrayRevs(id, obj)
	if !ok {
		return errConflict
	}
	t.cmp(modRev(sk, starts))
	return nil
}

// buildSubjobRemoval adds to t, which deletes subjob id's record, the
// write of its array's record when the subjob's byte is only in the
// overlay.
func (e *etcdStore) buildSubjobRemoval(t *etcdTxn, id jobs.ID) error {
	a := id.Base()
	e.mu.Lock()
	r, ok := e.jobRevs[a]
	var aj *jobs.Job
	if ok {
		aj = r.obj.(*jobs.Job)
		ok = e.overlaid(aj, id.Index())
	}
	starts := e.startRevs[a]
	e.mu.Unlock()
	if !ok {
		return nil
	}
	data, err := encodeJob(aj) // the view's bytes: SubRecord for id
	if err != nil {
		return err
	}
	k := e.jobKey(a)
	t.cmp(modRev(k, r.rev))
	sk := e.startsKey(a)
	t.cmp(modRev(sk, starts))
	t.keys = append(t.keys, sk)
	t.put(k, data)
	t.witness = append(t.witness, witness{key: k, data: data})
	t.objs = append(t.objs, keyedPut{k, data, aj})
	return nil
}
