package ckptui

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"lazarus/ckpt"
)

// The log of an interactive chkpnt (-L), replayed by -I, is the guide's
// (Figure 2-11): a line per process, "PID COMM checkpoint" or "PID COMM
// ignore", followed, for a checkpointed one, by a line per descriptor,
// "FD :PATH: path|copy|ignore". Replaying matches processes by pid, or
// else by their place in the tree (the same program run again has other
// pids), and descriptors by number; the paths are for reading only.

// Entry is one process of a log, with its descriptors' actions.
type Entry struct {
	PID    int
	Comm   string
	Ignore bool
	FDs    []FDEntry
}

// FDEntry is one descriptor line of a log.
type FDEntry struct {
	FD     int
	Path   string
	Action ckpt.FDAction // FDSave, FDCopy or FDIgnore
}

var fdWords = map[ckpt.FDAction]string{ckpt.FDSave: "path", ckpt.FDCopy: "copy", ckpt.FDIgnore: "ignore"}

// Log turns the decisions of a session over procs into a log: what was
// not answered is what chkpnt does by default (copyAll: -C).
func Log(procs []ckpt.ProcView, c *ckpt.Choices, copyAll bool) []Entry {
	var out []Entry
	for _, p := range procs {
		e := Entry{PID: p.PID, Comm: p.Comm, Ignore: c.Skip[p.PID]}
		if !e.Ignore {
			for _, f := range p.FDs {
				a := c.FDs[p.PID][f.FD].Action
				if a == ckpt.FDDefault {
					a = ckpt.FDSave
					if copyAll && f.Regular {
						a = ckpt.FDCopy
					}
				}
				e.FDs = append(e.FDs, FDEntry{FD: f.FD, Path: f.Path, Action: a})
			}
		}
		out = append(out, e)
	}
	return out
}

// WriteLog writes entries in the log format.
func WriteLog(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		word := "checkpoint"
		if e.Ignore {
			word = "ignore"
		}
		fmt.Fprintf(bw, "%d %s %s\n", e.PID, oneLine(e.Comm), word)
		for _, f := range e.FDs {
			fmt.Fprintf(bw, "%d :%s: %s\n", f.FD, oneLine(f.Path), fdWords[f.Action])
		}
	}
	return bw.Flush()
}

func oneLine(s string) string { return strings.NewReplacer("\n", "?", "\r", "?").Replace(s) }

// ReadLog parses a log; a malformed line is an error naming it.
func ReadLog(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		bad := func(why string) error { return fmt.Errorf("line %d: %q: %s", n, line, why) }
		first, rest, ok := strings.Cut(line, " ")
		num, err := strconv.Atoi(first)
		if !ok || err != nil || num < 0 {
			return nil, bad("not a log line (PID COMM checkpoint|ignore, or FD :PATH: path|copy|ignore)")
		}
		if strings.HasPrefix(rest, ":") {
			i := strings.LastIndex(rest, ": ")
			if len(out) == 0 {
				return nil, bad("a descriptor before any process")
			}
			if i < 1 {
				return nil, bad("no action after the path")
			}
			var action ckpt.FDAction
			for a, w := range fdWords {
				if rest[i+2:] == w {
					action = a
				}
			}
			if action == ckpt.FDDefault {
				return nil, bad("the action must be path, copy or ignore")
			}
			e := &out[len(out)-1]
			if e.Ignore {
				return nil, bad("a descriptor of an ignored process")
			}
			e.FDs = append(e.FDs, FDEntry{FD: num, Path: rest[1:i], Action: action})
			continue
		}
		i := strings.LastIndex(rest, " ")
		if i < 1 || (rest[i+1:] != "checkpoint" && rest[i+1:] != "ignore") {
			return nil, bad("a process line ends in checkpoint or ignore")
		}
		out = append(out, Entry{PID: num, Comm: rest[:i], Ignore: rest[i+1:] == "ignore"})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no process in the log")
	}
	return out, nil
}

// Replay applies a log to the tree procs as it is now, printing each
// action as the guide's Figure 2-12 does, and returns the decisions.
// A process of the tree the log does not name is checkpointed, its
// descriptors as by default.
func Replay(out io.Writer, procs []ckpt.ProcView, entries []Entry, copyAll bool) (*ckpt.Choices, error) {
	c := &ckpt.Choices{Skip: map[int]bool{}, FDs: map[int]map[int]ckpt.FDChoice{}}
	byPID := map[int]*Entry{}
	for i := range entries {
		byPID[entries[i].PID] = &entries[i]
	}
	for i, p := range procs {
		e := byPID[p.PID]
		if e == nil && i < len(entries) {
			e = &entries[i]
		}
		if e != nil && e.Comm != p.Comm {
			fmt.Fprintf(out, "%s: the log's process %d was %s; its entry is used for this one\n", p.String(), e.PID, e.Comm)
		}
		if e != nil && e.Ignore {
			if i == 0 {
				return nil, fmt.Errorf("%s: the log ignores the root of the hierarchy, which is always checkpointed", p.String())
			}
			c.Skip[p.PID] = true
			fmt.Fprintln(out, p.String()+" ignore")
			continue
		}
		fmt.Fprintln(out, p.String()+" checkpoint")
		actions := map[int]ckpt.FDAction{}
		if e != nil {
			for _, f := range e.FDs {
				actions[f.FD] = f.Action
			}
		}
		for _, f := range p.FDs {
			a, ok := actions[f.FD]
			if !ok {
				a = ckpt.FDSave
				if copyAll && f.Regular {
					a = ckpt.FDCopy
				}
			}
			if a == ckpt.FDCopy && !f.Regular {
				a = ckpt.FDSave // it is not a regular file any more
			}
			if c.FDs[p.PID] == nil {
				c.FDs[p.PID] = map[int]ckpt.FDChoice{}
			}
			c.FDs[p.PID][f.FD] = ckpt.FDChoice{Action: a}
			word := map[ckpt.FDAction]string{ckpt.FDSave: "pathname", ckpt.FDCopy: "copy", ckpt.FDIgnore: "ignore"}[a]
			fmt.Fprintln(out, f.String()+" "+word)
		}
	}
	return c, nil
}
