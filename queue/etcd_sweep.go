package queue

// The sweep of the shared spool: files that no job's record names.
// A submission writes its job's file before it commits the record (so a
// committed record never names a missing file); one that fails after
// that, or a job removed while the node that held its file was away,
// leaves a file with no job. SweepSpool removes them once they are older
// than a safe age: a submission in flight commits or fails within the
// store's timeout, far less than that age, so its file is never taken.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"lazarus/jobs"
)

// SweepSpool removes the files of the shared spool (etcd store) that are
// older than minAge and belong to no job: a job file whose job has no
// record in etcd, or a temporary file left by a write that did not end.
// Only one node (the server) should sweep. minAge below 10 times the
// store's etcd timeout is raised to that. It returns how many files it
// removed; each is logged. On bbolt (scripts inside the database) it does
// nothing.
func (s *Store) SweepSpool(minAge time.Duration) (int, error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	e, ok := s.be.(*etcdStore)
	if !ok {
		return 0, nil
	}
	return e.sweep(max(minAge, 10*e.timeout), time.Now())
}

func (e *etcdStore) sweep(minAge time.Duration, now time.Time) (int, error) {
	ents, err := os.ReadDir(e.spool)
	if err != nil {
		return 0, fmt.Errorf("sweep spool: %w", err)
	}
	log := e.s.log.With("component", "spool sweep")
	n := 0
	for _, ent := range ents {
		name := ent.Name()
		if !ent.Type().IsRegular() {
			continue
		}
		fi, err := ent.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if now.Sub(fi.ModTime()) < minAge {
			continue
		}
		var id uint64
		switch {
		case strings.HasPrefix(name, ".") && strings.Contains(name, ".job.tmp"):
			// writeSynced's temporary, never renamed: its writer failed.
		case strings.HasSuffix(name, ".job"):
			id, err = strconv.ParseUint(strings.TrimSuffix(name, ".job"), 10, 64)
			if err != nil || id == 0 || jobs.ID(id).IsSubjob() {
				continue // not a name the store gives: not ours to remove
			}
			if has, err := e.hasRecord(jobs.ID(id)); err != nil {
				return n, fmt.Errorf("sweep spool: %w", err)
			} else if has {
				continue
			}
		default:
			continue
		}
		if err := os.Remove(filepath.Join(e.spool, name)); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				log.Warn("cannot remove an orphan spool file", "file", name, "error", err)
			}
			continue
		}
		n++
		if id != 0 {
			log.Info("orphan spool file removed: its job has no record", "job_id", id, "file", name, "age", now.Sub(fi.ModTime()).Round(time.Second))
		} else {
			log.Info("orphan temporary spool file removed", "file", name, "age", now.Sub(fi.ModTime()).Round(time.Second))
		}
	}
	return n, nil
}

// hasRecord asks etcd (not the view, which may be behind) whether job id
// has a record.
func (e *etcdStore) hasRecord(id jobs.ID) (bool, error) {
	ctx, cancel := e.reqCtx()
	defer cancel()
	r, err := e.cl.Get(ctx, e.jobKey(id), clientv3.WithCountOnly())
	if err != nil {
		return false, e.etcdErr(err)
	}
	return r.Count > 0, nil
}
