package queue

import (
	"bytes"
	"fmt"
	"iter"

	"lazarus/jobs"
)

// Subjobs. A subjob has no record until it starts: StartSubjob makes one
// from its array's, in the transaction that marks it started in the
// array's States (so that it starts once, and the array's record is never
// behind). Its script and environment stay the array's.

// StartSubjob creates the record of subjob index of array id: fn gets the
// new record (a copy of the array's, from jobs.Job.Subjob) and changes it
// (starts it); fn also gets the array's copy, whose subjob state is
// already SubRecord. Nothing is stored if fn fails, or if the subjob is
// not queued (ErrNotQueued). On etcd fn may run again after a conflict.
func (s *Store) StartSubjob(id jobs.ID, index int, fn func(arr, sub *jobs.Job) error) (*jobs.Job, error) {
	defer s.lockJob(id)()
	return retry(func() (*jobs.Job, error) { return s.startSubjob(id, index, fn) })
}

func (s *Store) startSubjob(id jobs.ID, index int, fn func(arr, sub *jobs.Job) error) (*jobs.Job, error) {
	cur := s.View().Job(id)
	if cur == nil {
		return nil, fmt.Errorf("job %d: %w", id, ErrNoJob)
	}
	if cur.Array == nil {
		return nil, fmt.Errorf("job %d: %w", id, jobs.ErrNotArray)
	}
	if st, ok := cur.Array.State(index); !ok || st != jobs.SubQueued {
		return nil, fmt.Errorf("%s: %w", jobs.SubjobID(id, index), ErrNotQueued)
	}
	if s.View().Job(jobs.SubjobID(id, index)) != nil {
		return nil, fmt.Errorf("%s: %w", jobs.SubjobID(id, index), ErrNotQueued)
	}
	arr := cur.Copy()
	sub := cur.Subjob(index)
	if err := arr.SetSubjob(index, jobs.SubRecord); err != nil {
		return nil, err
	}
	if err := fn(arr, sub); err != nil {
		return nil, err
	}
	arr.ID = id
	ad, err := encodeJob(arr)
	if err != nil {
		return nil, err
	}
	sd, err := encodeJob(sub)
	if err != nil {
		return nil, err
	}
	// Only its byte changed (not its first start, which begins it)?
	marked := cur.Copy()
	if err := marked.SetSubjob(index, jobs.SubRecord); err != nil {
		return nil, err
	}
	var started jobs.ID
	if md, err := encodeJob(marked); err == nil && bytes.Equal(md, ad) {
		started = sub.ID
	}
	acctArr, acctSub := s.records(cur, arr, ""), s.records(cur.Subjob(index), sub, "")
	if err := s.write(putJob{job: arr, old: cur, data: ad, acct: acctArr, started: started}, putJob{job: sub, data: sd, acct: acctSub}); err != nil {
		return nil, err
	}
	return sub, nil
}

// Subjobs iterates over the records of array id's subjobs (those that
// have started), in index order.
func (v *View) Subjobs(id jobs.ID) iter.Seq[*jobs.Job] {
	return func(yield func(*jobs.Job) bool) {
		it, err := v.txn.LowerBound(tableJobs, indexID, jobs.SubjobID(id, 0))
		if err != nil {
			return
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			j := raw.(*jobs.Job)
			if !j.ID.IsSubjob() || j.ID.Base() != id {
				return
			}
			if !yield(j) {
				return
			}
		}
	}
}
