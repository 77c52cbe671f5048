package queue

// The bbolt file (lazarus.db in the state directory) holds:
//
//	meta/
//	    schema_version  → decimal schema version, "5"
//	jobs/               (bucket sequence: highest job id ever allocated)
//	    <id: uint64 big-endian> → diskJob, JSON (a subjob's record under
//	                              its subjob id, bit 63 set: jobs.SubjobID)
//	scripts/
//	    <id: uint64 big-endian> → the job's script, as submitted
//	env/
//	    <id: uint64 big-endian> → the submitter's environment, NUL-separated
//	                              (all of it with qsub -V, else the variables
//	                              the job sees as LAZARUS_O_*)
//	queues/
//	    <name> → diskQueue, JSON
//	submissions/
//	    <uid: uint32 big-endian><key> → job id, uint64 big-endian
//	submission_keys/
//	    <id: uint64 big-endian> → <uid><key>: the job's entry in submissions
//	accounting/         (bucket sequence: the last record's number)
//	    <n: uint64 big-endian> → one accounting record, a line of text
//
// Schema 2 added checkpoint fields to job records (generations with their
// statistics, the checkpoint in progress, the history of checkpoints and
// restarts) and to queue records (ckpt_min, ckpt_default, ckpt_keep). They
// are optional JSON fields, so schema 1 records read as they are; the
// version tells a lazarusd of schema 1 not to open (and rewrite without
// them) a database that has them.
//
// Schema 3 added the submission index: the key a client sends with a
// submission (qsub's random 128-bit key), scoped by the submitter's uid,
// names the job it created, so that a retried submission gets the same job
// instead of a second one. An entry is written in the transaction that
// stores the job and deleted in the one that deletes it (purge, qdel), so
// keys expire with their jobs. A schema 2 lazarusd would delete jobs and
// leave their entries; the version keeps it from opening the file.
//
// Schema 4 added job arrays and dependencies to job records: an array
// job's indices and the state letters of its subjobs (a subjob has a
// record of its own, under its subjob id, from when it starts), and what
// a job waits for. Optional fields again, but a schema 3 lazarusd would
// run an array job's script once, as a plain job, and start a job that
// waits for others: the version keeps it from opening the file.
//
// Schema 5 added the accounting outbox: the accounting records of a change
// (Options.Account) are written in the transaction of the change itself,
// numbered in commit order, so that a record is durable exactly when its
// change is; the daemon copies them to the day's accounting file, fsyncs
// it, then deletes them here (AccountingDone). Job records gained the peak
// memory and session of each run (optional fields). A schema 4 lazarusd
// would leave records in the outbox forever; the version keeps it out.
//
// Job ids are big-endian so that bbolt's key order is submission order.
// Scripts and environments are stored with the job record, in the same
// transaction (a submission is all there or not at all), but they are read
// only when the job starts, so they are not kept in memory.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketMeta   = []byte("meta")
	bucketJobs   = []byte("jobs")
	bucketEnv    = []byte("env")
	bucketScript = []byte("scripts")
	bucketQueues = []byte("queues")
	// Schema 3: the submission index and its reverse.
	bucketSubmissions = []byte("submissions")
	bucketSubmitKeys  = []byte("submission_keys")
	// Schema 5: accounting records not yet copied to the accounting files.
	bucketAccounting = []byte("accounting")

	keySchemaVersion = []byte("schema_version")
)

// SchemaVersion is the layout this code reads and writes.
const SchemaVersion = 5

// migration brings a database from version to-1 to version to. Migrations
// run in order, all in one transaction, so a crash leaves the old version.
type migration struct {
	to   int
	name string
	fn   func(tx *bolt.Tx) error
}

var migrations = []migration{
	{1, "create the job, script, environment and queue buckets", func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketJobs, bucketScript, bucketEnv, bucketQueues} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}},
	{2, "checkpoint fields in job and queue records (optional: nothing to rewrite)", func(*bolt.Tx) error {
		return nil
	}},
	{3, "the submission key index", func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSubmissions, bucketSubmitKeys} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}},
	{4, "job arrays and dependencies in job records (optional: nothing to rewrite)", func(*bolt.Tx) error {
		return nil
	}},
	{5, "the accounting outbox", func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketAccounting)
		return err
	}},
}

// migrate brings the database to SchemaVersion and returns the version it
// found (0 for a new file).
func migrate(db *bolt.DB) (found int, err error) {
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := meta.Get(keySchemaVersion); v != nil {
			found, err = strconv.Atoi(string(v))
			if err != nil {
				return fmt.Errorf("schema version %q: %w", v, err)
			}
		}
		if found > SchemaVersion {
			return fmt.Errorf("schema version %d, this lazarusd knows up to %d: %w", found, SchemaVersion, ErrNewerSchema)
		}
		for _, m := range migrations {
			if m.to <= found {
				continue
			}
			if err := m.fn(tx); err != nil {
				return fmt.Errorf("migrate to schema %d (%s): %w", m.to, m.name, err)
			}
			if err := meta.Put(keySchemaVersion, []byte(strconv.Itoa(m.to))); err != nil {
				return err
			}
		}
		return nil
	})
	return found, err
}

func idKey(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

func keyID(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, errors.New("job key is not 8 bytes")
	}
	return binary.BigEndian.Uint64(k), nil
}
