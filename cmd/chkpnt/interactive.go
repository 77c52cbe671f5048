package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"lazarus/ckpt"
	"lazarus/internal/ckptui"
)

// interactive runs the guide's interactive mode before the checkpoint:
// -i asks, -L asks and records the answers in a log, -I replays a log. It
// returns the decisions, nil for none of these options.
func interactive(c *cli.Context, pid int, opts *ckpt.CheckpointOptions) (*ckpt.Choices, error) {
	ask, record, replay := c.Bool("i") || c.IsSet("L"), c.String("L"), c.String("I")
	if !ask && replay == "" {
		return nil, nil
	}
	if ask && replay != "" {
		return nil, cli.Exit("-I cannot be combined with -i or -L", 2)
	}
	procs, err := ckpt.Survey(pid, opts.Tree)
	if err != nil {
		return nil, cli.Exit(err.Error(), 1)
	}
	if replay != "" {
		f, err := os.Open(inDir(opts.Dir, replay))
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("-I: %v", err), 1)
		}
		defer f.Close()
		entries, err := ckptui.ReadLog(f)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("-I %s: %v", f.Name(), err), 1)
		}
		ch, err := ckptui.Replay(c.App.Writer, procs, entries, opts.CopyFiles)
		if err != nil {
			return nil, cli.Exit(err.Error(), 1)
		}
		return ch, nil
	}
	s := &ckptui.Session{Mode: ckptui.Checkpoint, In: bufio.NewReader(c.App.Reader), Out: c.App.Writer, Procs: procs, CopyAll: opts.CopyFiles}
	ch, err := s.Run()
	if errors.Is(err, ckptui.ErrQuit) {
		return nil, cli.Exit("quit: no checkpoint written", 1)
	}
	if err != nil {
		return nil, err
	}
	if record != "" {
		if err := writeLog(inDir(opts.Dir, record), ckptui.Log(procs, ch, opts.CopyFiles)); err != nil {
			return nil, cli.Exit(fmt.Sprintf("-L: %v", err), 1)
		}
	}
	return ch, nil
}

// inDir resolves a relative log name in the checkpoint directory (CONVEX).
func inDir(dir, name string) string {
	if filepath.IsAbs(name) || dir == "" {
		return name
	}
	return filepath.Join(dir, name)
}

// writeLog writes the log under a temporary name and renames it into
// place, so a crash leaves the old log or the new one, never half of one.
func writeLog(path string, entries []ckptui.Entry) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := ckptui.WriteLog(tmp, entries); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
