package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"lazarus/jobs"
	"lazarus/queue"
)

// The accounting log: PBS's record format (jobs.AcctRecord), one file per
// day, accounting/YYYYMMDD in the state directory, never purged with the
// jobs it tells of.
//
// Durability, without a second fsync in the path of every request: the
// records of a change are decided by jobs.Changes and written by the store
// in the transaction of the change itself (its outbox, queue schema 4), so
// a record is durable exactly when the change it records is, and in the
// same group commit. Then the writer below appends the outbox's records to
// the day's file, fsyncs it, and only then deletes them from the outbox. A
// crash between the two leaves records in both: before appending, the
// writer looks at the end of the file, drops a line that a crash cut short
// (it is in the outbox still), and skips the records the file already ends
// with, so that no record is lost or written twice.

const acctDir = "accounting"

// acctBatch bounds the records one pass of the writer copies.
const acctBatch = 1000

// acctRetry is how often the writer tries again after a failure (a full
// disk), and looks at the outbox even when not woken.
const acctRetry = 5 * time.Second

// acctWriter copies the store's accounting outbox to the files.
type acctWriter struct {
	mu   sync.Mutex // one flush at a time
	kick chan struct{}
	// failed is the last error of a flush, logged once until one succeeds.
	errMu  sync.Mutex
	failed error
}

func (a *acctWriter) setFailed(err error) (changed bool) {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	changed = (a.failed == nil) != (err == nil) || err != nil && a.failed.Error() != err.Error()
	a.failed = err
	return changed
}

func newAcctWriter() *acctWriter { return &acctWriter{kick: make(chan struct{}, 1)} }

// accounted wakes the writer (queue.Options.Accounted).
func (a *acctWriter) accounted() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// accountLines is the store's Account hook: the records of a change, as
// lines.
func (d *Daemon) accountLines(old, cur *jobs.Job, by string) []string {
	recs := jobs.Changes(d.acctContext(), old, cur, by, time.Now())
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Line()
	}
	return out
}

func (d *Daemon) acctContext() jobs.AcctContext {
	return jobs.AcctContext{Server: d.config().Server(), GroupName: groupName}
}

// groupName looks a group up; "" when unknown.
func groupName(gid uint32) string {
	g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10))
	if err != nil {
		return ""
	}
	return g.Name
}

// acctRoot is the directory of the accounting log: the state directory's
// accounting/, or in cluster mode shared_dir/accounting, the cluster's one
// log (copied by the server, read by every node's tracejob and qstat -x).
func (d *Daemon) acctRoot() string {
	if d.cl != nil {
		return filepath.Join(d.cl.shared, acctDir)
	}
	return filepath.Join(d.dir, acctDir)
}

// accountLoop copies the outbox whenever the store has stored records,
// and every acctRetry; it ends with ctx (Run flushes once more after).
func (d *Daemon) accountLoop(ctx context.Context) {
	t := time.NewTicker(acctRetry)
	defer t.Stop()
	for {
		d.flushAccounting()
		select {
		case <-ctx.Done():
			return
		case <-d.acct.kick:
			// Let records gather: one append, one fsync and one outbox
			// commit for all the changes of a moment, not each (the
			// records are durable in the store meanwhile).
			select {
			case <-ctx.Done():
				return
			case <-time.After(acctGather):
			}
		case <-t.C:
		}
	}
}

// acctGather is how long the writer lets records gather once woken.
const acctGather = 200 * time.Millisecond

// flushAccounting copies the outbox to the files until it is empty or a
// write fails.
func (d *Daemon) flushAccounting() {
	a := d.acct
	if a == nil {
		return // a daemon built by a test without its accounting
	}
	if d.cl != nil && !d.cl.serving.Load() {
		// Cluster mode: one outbox for every node, copied by the server
		// alone into the one shared log (two copiers would write each
		// record twice).
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		entries, err := d.store.Accounting(acctBatch)
		if err == nil && len(entries) > 0 {
			err = d.copyAccounting(entries)
		}
		if err != nil {
			if a.setFailed(err) {
				d.log.Error("accounting records cannot be written; they wait in the store", "error", err)
			}
			return
		}
		if a.setFailed(nil) {
			d.log.Info("accounting records are written again")
		}
		if len(entries) < acctBatch {
			return
		}
	}
}

// copyAccounting appends entries, in order, to the files of their days,
// each file fsynced before its records leave the outbox.
func (d *Daemon) copyAccounting(entries []queue.AcctEntry) error {
	for len(entries) > 0 {
		day := acctDay(entries[0].Line)
		n := 1
		for n < len(entries) && acctDay(entries[n].Line) == day {
			n++
		}
		lines := make([]string, n)
		for i, e := range entries[:n] {
			lines[i] = e.Line
		}
		if err := appendRecords(filepath.Join(d.acctRoot(), day), lines); err != nil {
			return err
		}
		if err := d.store.AccountingDone(entries[n-1].N); err != nil {
			return err
		}
		d.mailRecords(lines)
		entries = entries[n:]
	}
	return nil
}

// acctDay is the file of a record: its date, as YYYYMMDD (the record
// starts MM/DD/YYYY).
func acctDay(line string) string {
	if len(line) < 10 || line[2] != '/' || line[5] != '/' {
		return "unknown"
	}
	return line[6:10] + line[0:2] + line[3:5]
}

// acctTail is how far back appendRecords reads beyond the records it
// checks for.
const acctTail = 64 << 10

// appendRecords appends lines to the file at path and fsyncs it: first
// cutting a last line that has no newline (a write a crash interrupted:
// its record is still in the outbox), then leaving out the first lines
// that the file already ends with (written, but the crash came before the
// outbox was told).
func appendRecords(path string, lines []string) (retErr error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if err := f.Close(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(filepath.Dir(path)); err != nil {
			return err
		}
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	want := 0
	for _, l := range lines {
		want += len(l)
	}
	from := max(size-int64(want)-acctTail, 0)
	tail := make([]byte, size-from)
	if _, err := f.ReadAt(tail, from); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	// A torn end: NULs (a size extended before its data) or a line
	// without its newline.
	keep := bytes.TrimRight(tail, "\x00")
	if len(keep) > 0 && keep[len(keep)-1] != '\n' {
		keep = keep[:bytes.LastIndexByte(keep, '\n')+1]
	}
	if len(keep) != len(tail) {
		size = from + int64(len(keep))
		if err := f.Truncate(size); err != nil {
			return err
		}
	}
	skip := written(keep, lines)
	if skip == len(lines) {
		return f.Sync() // a truncation, if any, must last too
	}
	var buf strings.Builder
	for _, l := range lines[skip:] {
		buf.WriteString(l)
	}
	if _, err := f.WriteAt([]byte(buf.String()), size); err != nil {
		return err
	}
	return f.Sync()
}

// written returns the largest m such that tail ends with lines[:m].
func written(tail []byte, lines []string) int {
	for m := len(lines); m > 0; m-- {
		if !bytes.HasSuffix(tail, []byte(lines[m-1])) {
			continue
		}
		end := len(tail)
		ok := true
		for i := m - 1; i >= 0 && ok; i-- {
			l := lines[i]
			if end < len(l) || string(tail[end-len(l):end]) != l {
				ok = false
			}
			end -= len(l)
		}
		if ok {
			return m
		}
	}
	return 0
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// acctFiles lists the accounting files of the last days days (all of
// them when days <= 0), oldest first.
func (d *Daemon) acctFiles(days int, now time.Time) []string {
	entries, _ := os.ReadDir(d.acctRoot())
	first := ""
	if days > 0 {
		first = now.AddDate(0, 0, -(days - 1)).Format("20060102")
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if len(n) != 8 || strings.Trim(n, "0123456789") != "" || n < first {
			continue
		}
		out = append(out, filepath.Join(d.acctRoot(), n))
	}
	slices.Sort(out)
	return out
}

// jobRecords reads the records of the given jobs (all jobs if ids is nil)
// from the accounting files of the last days days, oldest first. Lines
// that are not records are skipped.
func (d *Daemon) jobRecords(ids map[jobs.ID]bool, days int) []jobs.AcctRecord {
	d.flushAccounting()
	var out []jobs.AcctRecord
	for _, path := range d.acctFiles(days, time.Now()) {
		data, err := os.ReadFile(path)
		if err != nil {
			d.log.Warn("cannot read an accounting file", "path", path, "error", err)
			continue
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if line == "" {
				continue
			}
			r, err := jobs.ParseAcctRecord(line)
			if err != nil {
				continue
			}
			if ids != nil {
				if id, err := r.JobID(); err != nil || !ids[id] {
					continue
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// acctProblem says, for qstat, that accounting records wait because they
// cannot be written.
func (d *Daemon) acctProblem() string {
	if d.acct == nil {
		return ""
	}
	d.acct.errMu.Lock()
	defer d.acct.errMu.Unlock()
	if d.acct.failed == nil {
		return ""
	}
	return fmt.Sprintf("accounting records wait in the store: %v", d.acct.failed)
}
