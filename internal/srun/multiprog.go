package srun

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// taskProg is what one task runs: the program's path and its arguments
// (argv[0] as given).
type taskProg struct {
	path string
	argv []string
}

// multiProg reads a --multi-prog file, Slurm's: one line per set of
// tasks, "RANKS PROGRAM [ARGS...]", RANKS a list of task numbers and
// ranges (0,2-3) or "*" (every task no other line names), %t in the
// words the task's number and %o its offset in its range; "#" starts a
// comment. Every task of the n must have exactly one line.
func multiProg(path string, n int, dir string) ([]taskProg, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--multi-prog %s: %v", path, unwrapExec(err))
	}
	defer f.Close()
	out := make([]taskProg, n)
	set := make([]bool, n)
	var star []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		words, err := splitQuoted(text)
		if err != nil || len(words) < 2 {
			return nil, fmt.Errorf("--multi-prog %s line %d: want RANKS PROGRAM [ARGS...]", path, line)
		}
		if words[0] == "*" {
			star = words[1:]
			continue
		}
		for _, r := range strings.Split(words[0], ",") {
			lo, hi, isRange := strings.Cut(r, "-")
			a, err1 := strconv.Atoi(lo)
			b := a
			var err2 error
			if isRange {
				b, err2 = strconv.Atoi(hi)
			}
			if err1 != nil || err2 != nil || a < 0 || b < a {
				return nil, fmt.Errorf("--multi-prog %s line %d: %q is not a task number or range", path, line, r)
			}
			for t := a; t <= b; t++ {
				if t >= n {
					return nil, fmt.Errorf("--multi-prog %s line %d: task %d, of a step of %d tasks", path, line, t, n)
				}
				if set[t] {
					return nil, fmt.Errorf("--multi-prog %s line %d: task %d has two lines", path, line, t)
				}
				set[t] = true
				out[t], err = progFor(words[1:], t, t-a, dir)
				if err != nil {
					return nil, err
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--multi-prog %s: %w", path, err)
	}
	for t := range out {
		if set[t] {
			continue
		}
		if star == nil {
			return nil, fmt.Errorf("--multi-prog %s: no line for task %d", path, t)
		}
		if out[t], err = progFor(star, t, t, dir); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func progFor(words []string, task, offset int, dir string) (taskProg, error) {
	argv := make([]string, len(words))
	for i, w := range words {
		w = strings.ReplaceAll(w, "%t", strconv.Itoa(task))
		argv[i] = strings.ReplaceAll(w, "%o", strconv.Itoa(offset))
	}
	p, err := findProgram(argv[0], dir)
	if err != nil {
		return taskProg{}, fmt.Errorf("%s: %v", argv[0], err)
	}
	return taskProg{path: p, argv: argv}, nil
}

// splitQuoted splits a line into words; single and double quotes group.
func splitQuoted(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unbalanced quote")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
