package jobs

import (
	"errors"
	"fmt"
)

var (
	ErrBadID        = errors.New("not a job id")
	ErrBadName      = errors.New("not a valid job name (1-200 characters, no '/', spaces or control characters)")
	ErrBadJoin      = errors.New("not a join option")
	ErrBadVar       = errors.New("not a variable (NAME=value)")
	ErrBadResource  = errors.New("bad resource request")
	ErrBadPolicy    = errors.New("bad checkpoint policy")
	ErrBadTime      = errors.New("bad time")
	ErrBadAttribute = errors.New("bad job attribute")
	ErrBadUmask     = errors.New("not a umask (one to four octal digits, at most 0777)")
	ErrBadDepend    = errors.New("bad dependency")
	ErrNotArray     = errors.New("not an array job")
	ErrNoSubjob     = errors.New("no such subjob")
)

// TransitionError is returned when a job cannot go from its state to the
// requested one.
type TransitionError struct {
	ID       ID
	From, To State
}

func (e *TransitionError) Error() string {
	if e.From == e.To {
		return fmt.Sprintf("job %d is already %s", e.ID, e.From)
	}
	return fmt.Sprintf("job %d is %s, cannot become %s", e.ID, e.From, e.To)
}
