package queue

import (
	"fmt"
	"hash/fnv"
	"slices"

	"lazarus/jobs"
)

// Linked submissions: a job whose submission changes other jobs (its
// before dependencies put a condition on each job they name) is stored
// with those changes in one transaction, so that a crash never leaves the
// new job without the conditions it put on the others, nor a condition on
// a job that was never stored.

// SubmitLinked is Submit (SubmitOnce when key is not "") of job j that
// also changes the jobs of ids: fn gets copies of their current records,
// in the order of ids, and changes them. The new job and the changed
// records are durable together, in one transaction, or not at all; if fn
// or check fails nothing is stored. With a key that names an existing job
// of the owner's, nothing is stored, fn is not called, and that job's id
// is returned with dup true.
func (s *Store) SubmitLinked(key string, j *jobs.Job, script, env []byte, check func(*View) error,
	ids []jobs.ID, fn func([]*jobs.Job) error) (id jobs.ID, dup bool, err error) {
	var subKey []byte
	if key != "" {
		if len(key) > MaxKeyLen {
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
		subKey = submissionKey(j.Owner.UID, key)
	}
	defer s.lockJobs(ids)()
	// On etcd another node may change a named job meanwhile: the records
	// are read again and fn run again on them (retry).
	_, err = retry(func() (struct{}, error) { return struct{}{}, s.submitLinked(j, script, env, subKey, check, ids, fn) })
	if err != nil {
		return 0, false, err
	}
	return j.ID, false, nil
}

// submitLinked is one attempt of SubmitLinked, under the jobs' locks.
func (s *Store) submitLinked(j *jobs.Job, script, env, subKey []byte, check func(*View) error,
	ids []jobs.ID, fn func([]*jobs.Job) error) error {
	v := s.View()
	olds := make([]*jobs.Job, len(ids))
	js := make([]*jobs.Job, len(ids))
	for i, oid := range ids {
		if oid == j.ID || slices.Contains(ids[:i], oid) {
			return fmt.Errorf("job %s: named twice, or the job submitted itself", oid)
		}
		cur := v.Job(oid)
		if cur == nil {
			return fmt.Errorf("job %s: %w", oid, ErrNoJob)
		}
		olds[i], js[i] = cur, cur.Copy()
	}
	if fn != nil {
		if err := fn(js); err != nil {
			return err
		}
	}
	ops := make([]op, len(js))
	for i, o := range js {
		o.ID = ids[i]
		data, err := encodeJob(o)
		if err != nil {
			return err
		}
		ops[i] = putJob{job: o, old: olds[i], data: data, acct: s.records(olds[i], o, "")}
	}
	return s.submit(j, script, env, subKey, check, ops...)
}

// lockJobs takes the locks of several jobs, each lock stripe once and in
// order, so that two callers never wait on each other in a cycle; it
// returns the unlock.
func (s *Store) lockJobs(ids []jobs.ID) func() {
	var order []uint64
	for _, id := range ids {
		order = append(order, uint64(id)%uint64(len(s.jobLocks)))
	}
	slices.Sort(order)
	order = slices.Compact(order)
	for _, k := range order {
		s.jobLocks[k].Lock()
	}
	return func() {
		for _, k := range order {
			s.jobLocks[k].Unlock()
		}
	}
}
