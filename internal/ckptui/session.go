// Package ckptui is the interactive mode of chkpnt and restart (CONVEX
// chkpnt -i, -L, -I and restart -i): it walks the processes of a tree and
// their descriptors, asks what to do with each (the guide's prompts and
// one-letter commands) and turns the answers into ckpt.Choices. It does no
// checkpointing or restarting itself, and reads nothing but its input.
package ckptui

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"lazarus/ckpt"
)

// ErrQuit: the user quit (Q, or the input ended): nothing is to be done.
var ErrQuit = errors.New("quit: nothing done")

// Mode is which utility asks.
type Mode int

const (
	Checkpoint Mode = iota // chkpnt -i
	Restart                // restart -i
)

// Session is one interactive session over a tree.
type Session struct {
	Mode  Mode
	In    *bufio.Reader
	Out   io.Writer
	Procs []ckpt.ProcView // parents before children, the root first
	// CopyAll: chkpnt -C was given too; a regular file the user does not
	// answer for is copied.
	CopyAll bool

	choices ckpt.Choices
	decided map[int]bool // processes answered for
}

// step is how a prompt ended.
type step int

const (
	next    step = iota // on to the next item
	again               // the same prompt again
	jump                // to the process in Session.target
	proceed             // C or R: act on what was decided, the rest by default
)

type outcome struct {
	step   step
	target int
}

// Run asks about every item and returns the decisions, or ErrQuit.
func (s *Session) Run() (*ckpt.Choices, error) {
	s.choices = ckpt.Choices{Skip: map[int]bool{}, FDs: map[int]map[int]ckpt.FDChoice{}}
	s.decided = map[int]bool{}
	if s.Mode == Checkpoint {
		fmt.Fprintln(s.Out, "Chkpnt interactive mode. Type '?' for help.")
	} else {
		fmt.Fprintln(s.Out, "Restart interactive mode. Type '?' for help.")
	}
	for i := 0; i < len(s.Procs); {
		o, err := s.askProcess(i)
		if err != nil {
			return nil, err
		}
		switch o.step {
		case next:
			i++
		case jump:
			i = o.target
		case proceed:
			i = len(s.Procs)
		}
	}
	return &s.choices, nil
}

func (s *Session) verbs() (proc, eligible string) {
	if s.Mode == Checkpoint {
		return "[cip]", "c"
	}
	return "[ipr]", "r"
}

// ask prints prompt and reads one answer: its command letter and argument.
func (s *Session) ask(prompt string) (byte, string, error) {
	for {
		fmt.Fprint(s.Out, prompt+":")
		line, err := s.In.ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(s.Out)
			return 0, "", ErrQuit
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		return line[0], strings.TrimSpace(line[1:]), nil
	}
}

// common handles the commands every prompt takes; ok false means cmd is
// the prompt's own.
func (s *Session) common(cmd byte, arg string, current int) (outcome, bool, error) {
	switch cmd {
	case 'Q':
		return outcome{}, true, ErrQuit
	case 'C', 'R':
		if (cmd == 'C') != (s.Mode == Checkpoint) {
			return outcome{}, false, nil
		}
		return outcome{step: proceed}, true, nil
	case 'G':
		if arg == "" {
			if current+1 >= len(s.Procs) {
				fmt.Fprintln(s.Out, "no next process in the hierarchy")
				return outcome{step: again}, true, nil
			}
			return outcome{step: jump, target: current + 1}, true, nil
		}
		pid, err := strconv.Atoi(arg)
		if err == nil {
			for j, p := range s.Procs {
				if p.PID == pid {
					return outcome{step: jump, target: j}, true, nil
				}
			}
		}
		fmt.Fprintf(s.Out, "%s: no such process in the hierarchy\n", arg)
		return outcome{step: again}, true, nil
	case 'P':
		for _, p := range s.Procs {
			s.print(p)
		}
		fmt.Fprintln(s.Out)
		return outcome{step: again}, true, nil
	}
	return outcome{}, false, nil
}

func (s *Session) print(p ckpt.ProcView) {
	fmt.Fprintln(s.Out, p.String())
	for _, f := range p.FDs {
		fmt.Fprintln(s.Out, f.String())
	}
}

func (s *Session) unknown(cmd byte) {
	fmt.Fprintf(s.Out, "unknown command '%c'; type '?' for help\n", cmd)
}

func (s *Session) askProcess(i int) (outcome, error) {
	p := s.Procs[i]
	verbs, eligible := s.verbs()
	for {
		cmd, arg, err := s.ask(p.String() + " " + verbs)
		if err != nil {
			return outcome{}, err
		}
		if o, ok, err := s.common(cmd, arg, i); ok || err != nil {
			if err != nil || o.step != again {
				return o, err
			}
			continue
		}
		switch {
		case cmd == '?':
			fmt.Fprint(s.Out, s.processHelp())
		case cmd == 'p':
			s.print(p)
			if s.Mode == Restart {
				for _, c := range s.Procs {
					if c.PPID == p.PID && c.PID != p.PID {
						s.print(c)
					}
				}
			}
			fmt.Fprintln(s.Out)
		case cmd == 'i':
			if i == 0 {
				fmt.Fprintln(s.Out, "the root of the hierarchy cannot be ignored (Q quits)")
				continue
			}
			s.choices.Skip[p.PID] = true
			s.decided[p.PID] = true
			return outcome{step: next}, nil
		case string(cmd) == eligible:
			delete(s.choices.Skip, p.PID)
			s.decided[p.PID] = true
			for _, f := range p.FDs {
				o, err := s.askFD(i, p, f)
				if err != nil || o.step != next {
					return o, err
				}
			}
			return outcome{step: next}, nil
		default:
			s.unknown(cmd)
		}
	}
}

func (s *Session) askFD(i int, p ckpt.ProcView, f ckpt.FDView) (outcome, error) {
	verbs := "[ium]"
	if s.Mode == Checkpoint {
		verbs = "[is]"
		if f.Regular {
			verbs = "[cis]"
		}
	}
	for {
		cmd, arg, err := s.ask(f.String() + " " + verbs)
		if err != nil {
			return outcome{}, err
		}
		if o, ok, err := s.common(cmd, arg, i); ok || err != nil {
			if err != nil || o.step != again {
				return o, err
			}
			continue
		}
		var ch ckpt.FDChoice
		switch {
		case cmd == '?':
			fmt.Fprint(s.Out, s.fdHelp())
			continue
		case cmd == 'i':
			ch.Action = ckpt.FDIgnore
		case s.Mode == Checkpoint && cmd == 's':
			ch.Action = ckpt.FDSave
		case s.Mode == Checkpoint && cmd == 'c':
			if !f.Regular {
				fmt.Fprintln(s.Out, "only a regular file can be copied")
				continue
			}
			ch.Action = ckpt.FDCopy
		case s.Mode == Restart && cmd == 'u':
			ch.Action = ckpt.FDSave
		case s.Mode == Restart && cmd == 'm':
			if arg == "" || !strings.HasPrefix(arg, "/") {
				fmt.Fprintln(s.Out, "m takes the absolute pathname of the file to use: m /path")
				continue
			}
			ch = ckpt.FDChoice{Action: ckpt.FDModify, Path: arg}
		default:
			s.unknown(cmd)
			continue
		}
		if s.choices.FDs[p.PID] == nil {
			s.choices.FDs[p.PID] = map[int]ckpt.FDChoice{}
		}
		s.choices.FDs[p.PID][f.FD] = ch
		return outcome{step: next}, nil
	}
}

func (s *Session) processHelp() string {
	if s.Mode == Checkpoint {
		return `(Q)uit - exit without performing any checkpointing
(C)heckpoint - exit interactive mode and proceed with checkpointing
(G)oto - make a specified pid the current process
(P)rint - display information about all processes
(?) - display help message
(c)heckpoint - make the current process eligible for checkpointing
(i)gnore - make the current process ineligible for checkpointing
(p)rint - print information about the current process

`
	}
	return `(Q)uit - exit without performing the restart
(R)estart - exit interactive mode and proceed with restart
(G)oto - make a specified pid the current process
(P)rint - display information about all processes
(?) - display this help message
(r)estart - make the current process eligible for restart
(i)gnore - make the current process ineligible for restart
(p)rint - print information about the current process and its children
`
}

func (s *Session) fdHelp() string {
	if s.Mode == Checkpoint {
		return `(Q)uit - exit without performing any checkpointing
(C)heckpoint - exit interactive mode and proceed with checkpointing
(G)oto - make a specified pid the current process
(P)rint - display information about all processes
(?) - display this help message
(s)ave - store data about the file in the checkpoint file.
(c)opy - copy the entire file to the checkpoint directory (regular files only)
(i)gnore - no information about the file will be stored

`
	}
	return `(Q)uit - exit without performing restart
(R)estart - exit interactive mode and proceed with restart
(G)oto - make a specified pid the current process
(P)rint - display information about all processes
(?) - display this help message
(i)gnore - ignore the file descriptor
(u)se - use the file descriptor
(m)odify - change the pathname of a file descriptor

`
}
