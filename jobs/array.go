package jobs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Job arrays. An array job is one record (its script and attributes once)
// with an Array: the subjobs' indices and, one byte each, the state of the
// subjobs that have no record of their own. A subjob gets a record (a Job
// like any other, checkpointed, requeued and restarted on its own) only
// when it starts; until then it is a byte of its array's States.
//
// Subjob ids live in the same id space as jobs: bit 63 set, the array's id
// in bits 24-62 and the index in bits 0-23. The index 2^24-1 stands for the
// whole array ("N[]"), the form qsub prints and the commands accept. So a
// subjob is addressed everywhere a job is (run and checkpoint directories,
// the store, the protocol) without a table of its own.

const (
	subjobBit  = uint64(1) << 63
	indexBits  = 24
	indexMask  = uint64(1)<<indexBits - 1
	wholeIndex = indexMask
	// MaxIndex is the highest subjob index.
	MaxIndex = int(indexMask) - 1
	// MaxArrayID is the highest id an array job may have.
	MaxArrayID = ID(1)<<(63-indexBits) - 1
	// MaxArraySize bounds the subjobs of one array.
	MaxArraySize = 1_000_000
)

// SubjobID returns the id of subjob index of array a.
func SubjobID(a ID, index int) ID {
	return ID(subjobBit | uint64(a)<<indexBits | uint64(index)&indexMask)
}

// ArrayForm returns the id that names array a as a whole, "a[]".
func ArrayForm(a ID) ID { return ID(subjobBit | uint64(a)<<indexBits | wholeIndex) }

// IsSubjob reports whether id names one subjob ("N[i]").
func (id ID) IsSubjob() bool {
	return uint64(id)&subjobBit != 0 && uint64(id)&indexMask != wholeIndex
}

// IsArrayForm reports whether id names an array as a whole ("N[]").
func (id ID) IsArrayForm() bool {
	return uint64(id)&subjobBit != 0 && uint64(id)&indexMask == wholeIndex
}

// Base returns the id of the record an id is about: the array's for "N[]"
// and for a subjob, else the id itself. A subjob's own record is under its
// own id.
func (id ID) Base() ID {
	if uint64(id)&subjobBit == 0 {
		return id
	}
	return ID(uint64(id) &^ subjobBit >> indexBits)
}

// Index returns a subjob's index.
func (id ID) Index() int { return int(uint64(id) & indexMask) }

// String prints an id as PBS does: N, N[] for an array, N[i] for a subjob.
func (id ID) String() string {
	switch {
	case id.IsArrayForm():
		return strconv.FormatUint(uint64(id.Base()), 10) + "[]"
	case id.IsSubjob():
		return strconv.FormatUint(uint64(id.Base()), 10) + "[" + strconv.Itoa(id.Index()) + "]"
	}
	return strconv.FormatUint(uint64(id), 10)
}

// ParseID parses a job id as printed by qsub: N, N[] or N[i]. A PBS-style
// ".host" suffix is accepted and ignored, so ids pasted from other tools
// still work.
func ParseID(s string) (ID, error) {
	ids, err := ParseIDs(s)
	if err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, fmt.Errorf("%q: %w (a range of subjobs where one job is meant)", s, ErrBadID)
	}
	return ids[0], nil
}

// ParseIDs parses a job id that may name a range of subjobs, as qdel,
// qhold, qrls and qalter take them: N[1-5] or N[1-9:2] is every subjob of
// the range (those the array does not have are the daemon's to refuse).
func ParseIDs(s string) ([]ID, error) {
	bad := fmt.Errorf("%q: %w", s, ErrBadID)
	body := s
	if i := strings.IndexByte(s, ']'); i >= 0 {
		if rest := s[i+1:]; rest != "" && rest[0] != '.' {
			return nil, bad
		}
		body = s[:i+1]
	} else {
		body, _, _ = strings.Cut(s, ".")
	}
	digits, sub, hasSub := strings.Cut(body, "[")
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 {
		return nil, bad
	}
	if !hasSub {
		return []ID{ID(n)}, nil
	}
	if ID(n) > MaxArrayID || !strings.HasSuffix(sub, "]") {
		return nil, bad
	}
	sub = strings.TrimSuffix(sub, "]")
	if sub == "" {
		return []ID{ArrayForm(ID(n))}, nil
	}
	r, err := parseRange(sub)
	if err != nil {
		return nil, fmt.Errorf("%q: %w (%v)", s, ErrBadID, err)
	}
	if r.count() > MaxArraySize {
		return nil, fmt.Errorf("%q: %w (more than %d subjobs)", s, ErrBadID, MaxArraySize)
	}
	var out []ID
	for i := r.Start; i <= r.End; i += r.Step {
		out = append(out, SubjobID(ID(n), i))
	}
	return out, nil
}

// Range is a run of subjob indices: Start, Start+Step, ... up to End.
type Range struct{ Start, End, Step int }

func (r Range) count() int { return (r.End-r.Start)/r.Step + 1 }

func (r Range) String() string {
	switch {
	case r.Start == r.End:
		return strconv.Itoa(r.Start)
	case r.Step == 1:
		return fmt.Sprintf("%d-%d", r.Start, r.End)
	}
	return fmt.Sprintf("%d-%d:%d", r.Start, r.End, r.Step)
}

// parseRange parses i, i-j or i-j:s.
func parseRange(s string) (Range, error) {
	num := func(t string) (int, error) {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > MaxIndex || t == "" || t[0] == '+' {
			return 0, fmt.Errorf("%q is not an index from 0 to %d", t, MaxIndex)
		}
		return n, nil
	}
	body, step, hasStep := strings.Cut(s, ":")
	a, b, isRange := strings.Cut(body, "-")
	start, err := num(a)
	if err != nil {
		return Range{}, err
	}
	r := Range{Start: start, End: start, Step: 1}
	if !isRange {
		if hasStep {
			return Range{}, fmt.Errorf("%q: a step needs a range", s)
		}
		return r, nil
	}
	if r.End, err = num(b); err != nil {
		return Range{}, err
	}
	if r.End < r.Start {
		return Range{}, fmt.Errorf("%q: the range ends before it starts", s)
	}
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 {
			return Range{}, fmt.Errorf("%q: the step is not a whole number above 0", s)
		}
		r.Step = n
	}
	r.End -= (r.End - r.Start) % r.Step // the last index the range reaches
	return r, nil
}

// Subjob states kept in Array.States, one byte per subjob in index order.
// A subjob that has a record of its own is SubRecord there: its record
// says the rest.
const (
	SubQueued  byte = 'Q' // waits to start; no record
	SubHeld    byte = 'H' // held on its own (qhold N[i]) before it started; no record
	SubRecord  byte = 'R' // started: its record is the authority until it ends
	SubOK      byte = 'X' // ended with exit status 0
	SubFailed  byte = 'F' // ended any other way
	SubDeleted byte = 'D' // deleted before it started
)

// Array is what makes a job an array job.
type Array struct {
	Ranges []Range // ascending, disjoint: the canonical form of the indices
	Max    int     // most subjobs running at once (%max); 0: no limit
	States []byte  // one per subjob, in index order (Sub*)
	// Began is when the array began (its first subjob started): the start
	// of its E record.
	Began time.Time
	// Exit is the worst end of its subjobs so far, PBS's way: 0 all exited
	// 0, 1 one exited otherwise (or was killed), 2 one was ended by the
	// batch system (a negative Exit_status). Deleted subjobs do not count.
	Exit int
}

// PBS's array exit statuses (its chk_array_doneness).
const (
	ArrayExitOK     = 0 // every subjob that ended exited 0
	ArrayExitFailed = 1 // a subjob ended with a status other than 0
	ArrayExitError  = 2 // a subjob was ended by the batch system (Exit_status < 0)
)

// Ended folds the Exit_status of a subjob that ended into the array's.
func (a *Array) Ended(status int) {
	switch {
	case status < 0:
		a.Exit = ArrayExitError
	case status > 0:
		a.Exit = max(a.Exit, ArrayExitFailed)
	}
}

// ExitStatus is the array's Exit_status (meaningful once it has ended).
func (a *Array) ExitStatus() int {
	if a.Exit == ArrayExitOK && a.Count()[SubFailed] > 0 {
		return ArrayExitFailed // a subjob failed before Exit was kept
	}
	return a.Exit
}

// Indices prints the indices without %max: PBS's array_indices_submitted.
func (a *Array) Indices() string {
	parts := make([]string, len(a.Ranges))
	for i, r := range a.Ranges {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// ParseArray parses an array request in Slurm's list form, which holds
// PBS's: i-j[:s][,...][%max]. Indices are sorted and each taken once.
func ParseArray(s string) (*Array, error) {
	bad := func(err error) (*Array, error) { return nil, fmt.Errorf("array %q: %w", s, err) }
	list, max, hasMax := strings.Cut(s, "%")
	a := &Array{}
	if hasMax {
		n, err := strconv.Atoi(max)
		if err != nil || n < 1 {
			return bad(fmt.Errorf("%%%s: want a whole number of subjobs above 0", max))
		}
		a.Max = n
	}
	var idx []int
	total := 0
	for _, item := range strings.Split(list, ",") {
		r, err := parseRange(item)
		if err != nil {
			return bad(err)
		}
		if total += r.count(); total > MaxArraySize {
			return bad(fmt.Errorf("more than %d subjobs", MaxArraySize))
		}
		for i := r.Start; i <= r.End; i += r.Step {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	a.Ranges = compress(idx)
	a.States = []byte(strings.Repeat(string(SubQueued), len(idx)))
	return a, nil
}

// ParsePBSArray parses qsub -J: start-end[:step][%max], as PBS takes it
// (a range of at least two indices).
func ParsePBSArray(s string) (*Array, error) {
	body, _, _ := strings.Cut(s, "%")
	if strings.Contains(body, ",") || !strings.Contains(body, "-") {
		return nil, fmt.Errorf("-J %s: want start-end[:step][%%max] (a list is #SBATCH --array's)", s)
	}
	a, err := ParseArray(s)
	if err != nil {
		return nil, fmt.Errorf("-J %s: %w", s, err)
	}
	if a.Len() < 2 {
		return nil, fmt.Errorf("-J %s: an array has at least two subjobs", s)
	}
	return a, nil
}

// compress turns sorted unique indices into runs of constant step.
func compress(idx []int) []Range {
	var out []Range
	for i := 0; i < len(idx); {
		r := Range{Start: idx[i], End: idx[i], Step: 1}
		if i+1 < len(idx) {
			r.Step = idx[i+1] - idx[i]
		}
		k := i + 1
		for k < len(idx) && idx[k]-idx[k-1] == r.Step {
			k++
		}
		if k-i == 2 && r.Step != 1 && k < len(idx) {
			k = i + 1 // a pair with a gap: let the second start the next run
		}
		r.End = idx[k-1]
		if r.Start == r.End {
			r.Step = 1
		}
		out = append(out, r)
		i = k
	}
	return out
}

// Spec prints the indices (and %max) in the form ParseArray reads.
func (a *Array) Spec() string {
	s := a.Indices()
	if a.Max > 0 {
		s += "%" + strconv.Itoa(a.Max)
	}
	return s
}

// Len is the number of subjobs.
func (a *Array) Len() int { return len(a.States) }

// Pos returns the position of index in States, or false when the array has
// no such index.
func (a *Array) Pos(index int) (int, bool) {
	base := 0
	for _, r := range a.Ranges {
		if index >= r.Start && index <= r.End && (index-r.Start)%r.Step == 0 {
			return base + (index-r.Start)/r.Step, true
		}
		base += r.count()
	}
	return 0, false
}

// IndexAt returns the index of the subjob at position pos of States.
func (a *Array) IndexAt(pos int) int {
	for _, r := range a.Ranges {
		if n := r.count(); pos >= n {
			pos -= n
			continue
		}
		return r.Start + pos*r.Step
	}
	return -1
}

// State returns the stored state byte of a subjob.
func (a *Array) State(index int) (byte, bool) {
	p, ok := a.Pos(index)
	if !ok {
		return 0, false
	}
	return a.States[p], true
}

// Count returns how many subjobs are in each stored state.
func (a *Array) Count() map[byte]int {
	out := map[byte]int{}
	for _, b := range a.States {
		out[b]++
	}
	return out
}

// Waiting reports whether a subjob waits to start (queued, no record).
func (a *Array) Waiting() bool { return slices.Contains(a.States, SubQueued) }

// Copy returns a deep copy.
func (a *Array) Copy() *Array {
	if a == nil {
		return nil
	}
	c := *a
	c.Ranges = slices.Clone(a.Ranges)
	c.States = slices.Clone(a.States)
	return &c
}

// Subjob returns the record of a subjob that starts now: the array's job
// with the subjob's id and no Array of its own (and none of the array's
// runs, checkpoints or history).
func (j *Job) Subjob(index int) *Job {
	s := j.Copy()
	s.ID, s.Array, s.Depend = SubjobID(j.ID, index), nil, nil
	s.Segments, s.Checkpoints, s.Events, s.LastGeneration = nil, nil, nil, 0
	s.State, s.Reason = Queued, ""
	s.Checkpointing, s.CheckpointError, s.RestartFrom = nil, "", 0
	return s
}

// SubjobShell is Subjob for the scheduler's eyes only: a shallow copy that
// shares the array's slices, which the scheduler does not change.
func (j *Job) SubjobShell(index int) *Job {
	s := *j
	s.ID, s.Array, s.Depend, s.State = SubjobID(j.ID, index), nil, nil, Queued
	return &s
}

// SetSubjob records the state of a subjob of an array job.
func (j *Job) SetSubjob(index int, st byte) error {
	if j.Array == nil {
		return fmt.Errorf("job %s: %w", j.ID, ErrNotArray)
	}
	p, ok := j.Array.Pos(index)
	if !ok {
		return fmt.Errorf("%s: %w", SubjobID(j.ID, index), ErrNoSubjob)
	}
	j.Array.States[p] = st
	return nil
}

// Settle brings an array job's state in line with its subjobs': begun once
// one has started, finished once all have ended with status 0, failed
// once all have ended or been deleted and one did not end so. A held
// array stays held while it has subjobs to start.
func (j *Job) Settle(now time.Time) error {
	if j.Array == nil || j.State.Terminal() {
		return nil
	}
	n := j.Array.Count()
	if n[SubQueued]+n[SubHeld]+n[SubRecord] == 0 {
		if n[SubOK] == j.Array.Len() {
			return j.become(Finished, "", now)
		}
		return j.become(Failed, fmt.Sprintf("%d of %d subjobs ended with exit status 0; %d failed, %d deleted",
			n[SubOK], j.Array.Len(), n[SubFailed], n[SubDeleted]), now)
	}
	if j.State == Queued && n[SubRecord]+n[SubOK]+n[SubFailed] > 0 {
		if j.Array.Began.IsZero() {
			j.Array.Began = now // its first subjob started
		}
		return j.become(Begun, "", now)
	}
	return nil
}
