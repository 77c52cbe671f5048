package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// A job script's arguments: qsub -F (split as a shell would), sbatch's
// words after the script; kept with the job across a daemon restart, given
// to each subjob of an array.
func TestBatchScriptArgs(t *testing.T) {
	t.Parallel()
	b := newBatch(t, pbsConf)
	script := b.script("args.sh", "#!/bin/sh\nprintf '[%s]' \"$#\" \"$@\" > \"args.$TAG${PBS_ARRAY_INDEX:+.$PBS_ARRAY_INDEX}\"\n")
	file := func(name string) string { return b.readFile(filepath.Join(b.work, name)) }

	held := b.qsub("-h", "-v", "TAG=held", "-F", `one 'two  three' "#four" a\b`, script)
	b.stop()
	b.start()
	b.mustRun("qrls", jobArg(held))
	b.waitState(held, "finished")
	if got, want := file("args.held"), `[4][one][two  three][#four][a\b]`; got != want {
		t.Errorf("qsub -F, after a daemon restart: $# and $@ = %s, want %s", got, want)
	}

	arr := b.qsubID("-J", "1-2", "-v", "TAG=arr", "-F", "x y", script)
	b.waitEnded(arr)
	for _, n := range []string{"1", "2"} {
		if got := file("args.arr." + n); got != "[2][x][y]" {
			t.Errorf("subjob %s of qsub -J -F: $# and $@ = %s", n, got)
		}
	}

	none := b.qsub("-v", "TAG=none", script)
	b.waitState(none, "finished")
	if got := file("args.none"); got != "[0]" {
		t.Errorf("without -F: $# and $@ = %s", got)
	}

	id := b.sbatchID("--export=ALL,TAG=sb", script, "a", "b c", "")
	b.waitState(id, "finished")
	if got := file("args.sb"); got != "[3][a][b c][]" {
		t.Errorf("sbatch script a 'b c' '': $# and $@ = %s", got)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-F", "x", "--", "/bin/true"}, "-F: the arguments of a command go after it"},
		{[]string{"-F", "'x", script}, "unbalanced quote"},
	} {
		if r := b.run("qsub", c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("qsub %s: %v, want %q", strings.Join(c.args, " "), r, c.want)
		}
	}
}
