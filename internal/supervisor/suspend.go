package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"lazarus/jobs"
)

// SuspendFile, in the run directory, holds the job's suspensions, written
// by the daemon when it suspends or resumes the job: a suspended job is
// not charged for walltime (OpenPBS), so the supervisor leaves them out
// of the time its walltime limit counts.
const SuspendFile = "suspend.json"

// suspension is SuspendFile's content.
type suspension struct {
	Since time.Time   `json:"since,omitzero"` // suspended since; zero: running
	Spans []jobs.Span `json:"spans,omitempty"`
}

// WriteSuspension records a job's suspensions in its run directory.
func WriteSuspension(runDir string, since time.Time, spans []jobs.Span) error {
	if _, err := os.Stat(runDir); err != nil {
		return err
	}
	return writeJSON(filepath.Join(runDir, SuspendFile), &suspension{Since: since, Spans: spans})
}

// suspendedSince is how long the job was suspended from since until now,
// as its run directory records; suspended is how a restored run starts
// (Spec.Suspended), until the daemon writes the file.
func suspendedSince(runDir string, since time.Time, suspended bool, now time.Time) time.Duration {
	var s suspension
	err := readJSON(filepath.Join(runDir, SuspendFile), &s)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if suspended {
			return now.Sub(since)
		}
		return 0
	case err != nil:
		return 0
	}
	return jobs.SuspendedWithin(s.Spans, s.Since, since, now)
}
