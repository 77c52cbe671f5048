package queue

// The accounting outbox on etcd: one key per change that has records,
// numbered by its create revision (etcdAcct).

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func (e *etcdStore) accounting(limit int) ([]AcctEntry, error) {
	ctx, cancel := e.reqCtx()
	defer cancel()
	r, err := e.cl.Get(ctx, e.prefix+etcdAccounting, clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend), clientv3.WithLimit(int64(limit)))
	if err != nil {
		return nil, e.etcdErr(err)
	}
	type rec struct {
		kv *mvccpb.KeyValue
		a  etcdAcct
	}
	kvs := r.Kvs
	if r.More && len(kvs) > 0 {
		// The changes committed together share a create revision (group
		// commit): all of the last one's, or a record numbered before one
		// read here could be left out and then removed by AccountingDone.
		last := kvs[len(kvs)-1].CreateRevision
		more, err := e.cl.Get(ctx, e.prefix+etcdAccounting, clientv3.WithPrefix(),
			clientv3.WithMinCreateRev(last), clientv3.WithMaxCreateRev(last))
		if err != nil {
			return nil, e.etcdErr(err)
		}
		kvs = slices.DeleteFunc(kvs, func(kv *mvccpb.KeyValue) bool { return kv.CreateRevision == last })
		kvs = append(kvs, more.Kvs...)
	}
	var recs []rec
	for _, kv := range kvs {
		var a etcdAcct
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			e.s.log.Error("unreadable accounting records, skipped", "key", string(kv.Key), "error", err)
			continue
		}
		recs = append(recs, rec{kv, a})
	}
	// etcd's sort is not stable: within a revision, by number.
	slices.SortFunc(recs, func(x, y rec) int {
		if c := cmp.Compare(x.kv.CreateRevision, y.kv.CreateRevision); c != 0 {
			return c
		}
		return cmp.Compare(x.a.First, y.a.First)
	})
	var out []AcctEntry
	for _, r := range recs {
		for i, l := range r.a.Lines {
			if len(out) == limit {
				return out, nil
			}
			out = append(out, AcctEntry{N: uint64(r.kv.CreateRevision)<<acctShift | uint64(r.a.First+i), Line: l})
		}
	}
	return out, nil
}

func (e *etcdStore) accountingDone(upTo uint64) error {
	ctx, cancel := e.reqCtx()
	defer cancel()
	r, err := e.cl.Get(ctx, e.prefix+etcdAccounting, clientv3.WithPrefix(),
		clientv3.WithMaxCreateRev(int64(upTo>>acctShift)))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, e.etcdErr(err))
	}
	var t etcdTxn
	flush := func() error {
		if len(t.ops) == 0 {
			return nil
		}
		if _, err := e.cl.Txn(ctx).If(t.cmps...).Then(t.ops...).Commit(); err != nil {
			return fmt.Errorf("%w: %w", ErrWrite, e.etcdErr(err))
		}
		t = etcdTxn{}
		return nil
	}
	for _, kv := range r.Kvs {
		k := string(kv.Key)
		base := uint64(kv.CreateRevision) << acctShift
		var a etcdAcct
		if err := json.Unmarshal(kv.Value, &a); err != nil || base+uint64(a.First+len(a.Lines)-1) <= upTo {
			t.del(k)
		} else if n := int(upTo - base + 1 - uint64(a.First)); base+uint64(a.First) <= upTo {
			// Part of one change's records were copied: keep the rest.
			data, err := json.Marshal(etcdAcct{First: a.First + n, Lines: a.Lines[n:]})
			if err != nil {
				return err
			}
			t.cmp(modRev(k, kv.ModRevision))
			t.put(k, data)
		}
		if len(t.ops) >= etcdMaxTxnOps/2 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
