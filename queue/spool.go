package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"lazarus/jobs"
)

// The etcd store's spool: one file per job in the shared directory,
// <id>.job, holding its script and its environment (one file: one fsync
// per submission), as
//
//	"LZSPOOL1\n", the script's length (8 bytes, big-endian), the script,
//	the environment (the rest of the file).
//
// A subjob has none: its script and environment are its array's.

const spoolMagic = "LZSPOOL1\n"

type spoolFile struct {
	path string
	data []byte
}

func spoolPath(dir string, id jobs.ID) string {
	return filepath.Join(dir, strconv.FormatUint(uint64(id), 10)+".job")
}

func encodeSpool(script, env []byte) []byte {
	b := make([]byte, 0, len(spoolMagic)+8+len(script)+len(env))
	b = append(b, spoolMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(script)))
	b = append(b, script...)
	return append(b, env...)
}

// readSpool returns a job's script and environment; nil and nil when it
// has no file.
func readSpool(dir string, id jobs.ID) (script, env []byte, err error) {
	b, err := os.ReadFile(spoolPath(dir, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	rest, ok := cutPrefix(b, spoolMagic)
	if !ok || len(rest) < 8 {
		return nil, nil, fmt.Errorf("spool file of job %d: not a spool file", id)
	}
	n := binary.BigEndian.Uint64(rest)
	rest = rest[8:]
	if n > uint64(len(rest)) {
		return nil, nil, fmt.Errorf("spool file of job %d: truncated", id)
	}
	return rest[:n:n], rest[n:], nil
}

func cutPrefix(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return nil, false
	}
	return b[len(prefix):], true
}

// writeSpool writes files durably: each under a temporary name, fsynced,
// renamed, then the directory fsynced, so that a committed record never
// names a file a crash could lose.
func writeSpool(dir string, files []spoolFile) error {
	if len(files) == 0 {
		return nil
	}
	for _, f := range files {
		if err := writeSynced(f.path, f.data); err != nil {
			return fmt.Errorf("%w: spool: %w", ErrWrite, err)
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("%w: spool: %w", ErrWrite, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%w: spool: %w", ErrWrite, err)
	}
	return nil
}

func writeSynced(path string, data []byte) (retErr error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func removeSpool(log interface{ Warn(string, ...any) }, dir string, id jobs.ID) {
	if err := os.Remove(spoolPath(dir, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn("cannot remove a spool file", "job_id", id, "error", err)
	}
}
