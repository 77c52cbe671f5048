package queue

// Group commit on etcd. The writes of a store that arrive while one of
// its transactions is in flight wait; when it has been answered, one of
// them (the leader) takes all that wait and commits them in as few etcd
// transactions as etcd's limits allow. Each write keeps its own compares:
// a group is one transaction whose Then is one nested transaction per
// write (etcd evaluates every nested transaction's compares against the
// same revision, before any of them applies), so a write whose compares
// fail does not hold back the others, and each caller gets the outcome of
// its own write. Nothing is acknowledged before the group has committed.
//
// Limits (etcdMaxTxnOps, etcdMaxBytes): etcd checks a nested transaction
// against the operations left by its parent (--max-txn-ops minus the
// parent's count), so a group of n writes keeps n plus its largest
// write's count within the limit, and the sum of its writes' sizes within
// etcdMaxBytes. Two writes that change the same key never share a group
// (etcd refuses a transaction that puts a key twice): the second goes in
// the next one, and finds its compares failed if the first changed what
// it read. A group that etcd refuses as a whole for any other reason than
// a transient one is committed again one write at a time, so that the
// refusal is the error of the write that caused it only.
//
// There is no goroutine: the leader is a writer, which hands the lead to
// the next waiting writer when it has its own answer.

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// commit commits t, alone or with the writes that wait with it, and
// returns its outcome.
func (e *etcdStore) commit(t *etcdTxn) txnOutcome {
	t.lead = make(chan bool, 1)
	e.batchMu.Lock()
	e.batchQueue = append(e.batchQueue, t)
	if e.batchBusy {
		e.batchMu.Unlock()
		if lead := <-t.lead; !lead {
			return t.out
		}
	} else {
		e.batchBusy = true
		e.batchMu.Unlock()
	}
	// The leader: t is in the queue, which is taken whole.
	e.batchMu.Lock()
	batch := e.batchQueue
	e.batchQueue = nil
	e.batchMu.Unlock()
	if e.leadHook != nil {
		e.leadHook()
	}
	e.commitBatch(batch)
	e.batchMu.Lock()
	if len(e.batchQueue) > 0 {
		e.batchQueue[0].lead <- true
	} else {
		e.batchBusy = false
	}
	e.batchMu.Unlock()
	return t.out
}

// commitBatch commits writes in groups within etcd's limits, sets each
// one's outcome, and tells each (but the leader, which is among them and
// waits on nothing) that it is set.
func (e *etcdStore) commitBatch(batch []*etcdTxn) {
	var group []*etcdTxn
	keys := map[string]bool{}
	opc, size := 0, 0
	flush := func() {
		if len(group) > 0 {
			e.commitGroup(group, false)
			for _, t := range group {
				t.lead <- false
			}
		}
		group, opc, size = nil, 0, 0
		clear(keys)
	}
	for _, t := range batch {
		n := t.opCount()
		clash := slices.ContainsFunc(t.keys, func(k string) bool { return keys[k] })
		if clash || len(group)+1+max(opc, n) > etcdMaxTxnOps || size+t.size > etcdMaxBytes {
			flush()
		}
		group = append(group, t)
		opc, size = max(opc, n), size+t.size
		for _, k := range t.keys {
			keys[k] = true
		}
	}
	flush()
	// The leader's own channel holds a false it does not read: it is
	// never used again.
}

// opCount is what etcd counts of a write's transaction: the largest of
// its compares, its operations and its reads after failed compares.
func (t *etcdTxn) opCount() int {
	n := len(t.ops)
	if t.acctKey != "" {
		n++
	}
	return max(len(t.cmps), n, len(t.elses))
}

// commitGroup commits a group in one transaction (retrying while etcd
// has no leader) and sets the outcome of each of its writes. retried: an
// earlier attempt of these writes may have committed.
func (e *etcdStore) commitGroup(group []*etcdTxn, retried bool) {
	ops, err := e.groupOps(group)
	if err != nil {
		for _, t := range group {
			t.out = txnOutcome{err: err}
		}
		return
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
	defer cancel()
	var txn clientv3.Txn
	if len(group) == 1 {
		txn = e.cl.Txn(ctx).If(group[0].cmps...).Then(ops[0]...).Else(group[0].elses...)
	} else {
		nested := make([]clientv3.Op, len(group))
		for i, t := range group {
			nested[i] = clientv3.OpTxn(t.cmps, ops[i], t.elses)
		}
		txn = e.cl.Txn(ctx).Then(nested...)
	}
	backoff := 50 * time.Millisecond
	for {
		r, err := txn.Commit()
		if err != nil {
			if transient(err) && ctx.Err() == nil {
				// A leader lost meanwhile: whether the attempt committed
				// is unknown, which the next one tells (its compares fail
				// on its own records, as the witnesses show).
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
				}
				backoff = min(2*backoff, time.Second)
				retried = true
				continue
			}
			if len(group) > 1 && ctx.Err() == nil {
				// Refused as a whole: each write alone, so that the
				// refusal is only the error of the one that caused it.
				for _, t := range group {
					e.commitGroup([]*etcdTxn{t}, retried)
				}
				return
			}
			for _, t := range group {
				t.out = txnOutcome{err: err}
			}
			return
		}
		e.writes.Add(int64(len(group)))
		e.groups.Add(1)
		for i, t := range group {
			out := txnOutcome{ok: r.Succeeded, elses: r.Responses, rev: r.Header.Revision}
			if len(group) > 1 {
				nr := r.Responses[i].GetResponseTxn()
				out.ok, out.elses = nr.GetSucceeded(), nr.GetResponses()
			}
			if !out.ok && retried && t.committed(out.elses) {
				out.ok, out.elses = true, nil
			}
			t.out = out
		}
		return
	}
}

// groupOps returns each write's operations, with its outbox record: the
// records of the writes of one transaction share its revision, so they
// are numbered on from one write to the next, in the order of their keys
// (the order in which Accounting lists them).
func (e *etcdStore) groupOps(group []*etcdTxn) ([][]clientv3.Op, error) {
	var acct []*etcdTxn
	for _, t := range group {
		if t.acctKey != "" {
			acct = append(acct, t)
		}
	}
	slices.SortFunc(acct, func(a, b *etcdTxn) int { return strings.Compare(a.acctKey, b.acctKey) })
	recs := map[*etcdTxn]clientv3.Op{}
	first := 0
	for _, t := range acct {
		data, err := json.Marshal(etcdAcct{First: first, Lines: t.acct})
		if err != nil {
			return nil, err
		}
		recs[t] = clientv3.OpPut(t.acctKey, string(data))
		first += len(t.acct)
	}
	out := make([][]clientv3.Op, len(group))
	for i, t := range group {
		out[i] = t.ops
		if op, ok := recs[t]; ok {
			out[i] = append(slices.Clip(t.ops), op)
		}
	}
	return out, nil
}
