package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"

	"lazarus/internal/etcdtest"
	"lazarus/jobs"
)

// fixture is where a test's store lives: a bbolt file, or a prefix of an
// etcd cluster with its spool directory. open opens it again (a reopen
// sees what the last store left).
type fixture struct {
	backend string
	path    string // bbolt
	etcd    *etcdtest.Cluster
	prefix  string
	spool   string
	opts    Options
}

// forBackends runs a store test on both backends.
func forBackends(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, b := range []string{"bbolt", "etcd"} {
		t.Run(b, func(t *testing.T) { fn(t, newFixture(t, b)) })
	}
}

func newFixture(t *testing.T, backend string) *fixture {
	t.Helper()
	f := &fixture{backend: backend}
	switch backend {
	case "bbolt":
		f.path = filepath.Join(t.TempDir(), "lazarus.db")
	case "etcd":
		f.etcd = etcdtest.New(t, 1)
		f.prefix, f.spool = "/lazarus", filepath.Join(t.TempDir(), "spool")
	}
	return f
}

func (f *fixture) open(t *testing.T) *Store {
	t.Helper()
	s, err := f.openErr(t, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (f *fixture) openErr(t *testing.T, opts Options) (*Store, error) {
	t.Helper()
	if f.etcd == nil {
		return Open(f.path, opts)
	}
	return f.openEtcd(t, f.etcd.Client(), opts)
}

// openEtcd opens a store of the fixture's prefix through cl (another
// node's client).
func (f *fixture) openEtcd(t *testing.T, cl *clientv3.Client, opts Options) (*Store, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return OpenEtcd(ctx, cl, f.prefix, EtcdOptions{Options: opts, SpoolDir: f.spool, Timeout: 20 * time.Second})
}

// stored returns the job and queue records the backend holds.
func stored(t *testing.T, s *Store) (map[jobs.ID][]byte, map[string][]byte) {
	t.Helper()
	onDisk := map[jobs.ID][]byte{}
	queues := map[string][]byte{}
	switch be := s.be.(type) {
	case *boltStore:
		err := be.db.View(func(tx *bolt.Tx) error {
			if err := tx.Bucket(bucketJobs).ForEach(func(k, val []byte) error {
				id, _ := keyID(k)
				onDisk[jobs.ID(id)] = bytes.Clone(val)
				return nil
			}); err != nil {
				return err
			}
			return tx.Bucket(bucketQueues).ForEach(func(k, val []byte) error {
				queues[string(k)] = bytes.Clone(val)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	case *etcdStore:
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r, err := be.cl.Get(ctx, be.prefix+etcdJobs, clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range r.Kvs {
			id, err := strconv.ParseUint(strings.TrimPrefix(string(kv.Key), be.prefix+etcdJobs), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			onDisk[jobs.ID(id)] = kv.Value
		}
		// The overlay (etcd_array.go): a subjob with a record whose
		// stored byte is SubQueued shows as SubRecord.
		for id := range onDisk {
			if !id.IsSubjob() || onDisk[id.Base()] == nil {
				continue
			}
			a, err := decodeJob(uint64(id.Base()), onDisk[id.Base()])
			if err != nil || a.Array == nil {
				continue
			}
			if st, ok := a.Array.State(id.Index()); ok && st == jobs.SubQueued {
				a.SetSubjob(id.Index(), jobs.SubRecord)
				if onDisk[id.Base()], err = encodeJob(a); err != nil {
					t.Fatal(err)
				}
			}
		}
		r, err = be.cl.Get(ctx, be.prefix+etcdQueues, clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range r.Kvs {
			queues[strings.TrimPrefix(string(kv.Key), be.prefix+etcdQueues)] = kv.Value
		}
	}
	return onDisk, queues
}

// checkConsistent verifies that the view holds exactly what the backend
// holds.
func checkConsistent(t *testing.T, s *Store) {
	t.Helper()
	v := s.View()
	onDisk, queues := stored(t, s)
	n := 0
	for j := range v.Jobs() {
		n++
		want, err := encodeJob(j)
		if err != nil {
			t.Fatal(err)
		}
		if got := onDisk[j.ID]; !bytes.Equal(got, want) {
			t.Errorf("job %d: the backend has %s, view has %s", j.ID, got, want)
		}
	}
	if n != len(onDisk) {
		t.Errorf("view has %d jobs, the backend %d", n, len(onDisk))
	}
	qs := v.Queues()
	if len(qs) != len(queues) {
		t.Errorf("view has %d queues, the backend %d", len(qs), len(queues))
	}
	for _, q := range qs {
		got, ok := queues[q.Name]
		want, _ := json.Marshal(toDiskQueue(q))
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("queue %s: the backend has %s, view has %s", q.Name, got, want)
		}
	}
}
