package integration

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// BenchmarkBatchCkptChain12 measures the cost on disk of a job's
// checkpoint generations under the chain policy, with the default
// checkpoint_keep (2) and checkpoint_full_every (8): a memjob of 256 MiB
// writes one page in 20 between checkpoints (5%), and is checkpointed 12
// times, as a periodic checkpoint is taken (asked for by qchkpnt, so that
// each follows one such step). For each checkpoint it logs the bytes
// written (the new generation, and every generation merged because of it)
// and the bytes the job's generations hold on disk once it and its merges
// and deletions are done; it reports the mean written per checkpoint, the
// total written, and the most and the mean held.
func BenchmarkBatchCkptChain12(b *testing.B) {
	batchNeedRoot(b)
	const mib, checkpoints = 256, 12
	d := newBatch(b, "")
	id, out := d.memJob("chain", mib)
	dir := filepath.Join(d.home, "spool", jobArg(id)+".ckpt")
	parents := map[int]int{} // generation: its parent as last seen
	var written, mostHeld, sumHeld int64
	for k := 1; k <= checkpoints; k++ {
		if k > 1 {
			os.WriteFile(filepath.Join(d.work, "touch"), nil, 0o644)
			d.waitFor("memjob to write 5% of its pages", func() bool {
				data, _ := os.ReadFile(out)
				return strings.Count(string(data), "touched") >= k-1
			})
		}
		d.mustRun("qchkpnt", jobArg(id))
		j := d.job(id)
		var w int64
		var what []string
		for _, g := range j.Checkpoints {
			p, seen := parents[g.N]
			switch {
			case !seen:
				w += g.Size
				what = append(what, fmt.Sprintf("new %s", genName(g.N, g.Parent)))
			case p != 0 && g.Parent == 0:
				w += g.Size
				what = append(what, fmt.Sprintf("merged %d", g.N))
			}
			parents[g.N] = g.Parent
		}
		held := diskHeld(dir)
		written += w
		sumHeld += held
		mostHeld = max(mostHeld, held)
		// Printed, not logged: a benchmark's log is cut at 10 lines.
		fmt.Printf("checkpoint %2d: wrote %6.1f MiB (%s); generations %s hold %6.1f MiB\n",
			k, float64(w)/(1<<20), strings.Join(what, ", "), gens(j), float64(held)/(1<<20))
	}
	os.WriteFile(filepath.Join(d.work, "stop"), nil, 0o644)
	d.waitState(id, "finished", "failed")
	b.ReportMetric(float64(written)/checkpoints/(1<<20), "MiB-written/ckpt")
	b.ReportMetric(float64(written)/(1<<20), "MiB-written")
	b.ReportMetric(float64(mostHeld)/(1<<20), "max-MiB-held")
	b.ReportMetric(float64(sumHeld)/checkpoints/(1<<20), "mean-MiB-held")
}

func genName(n, parent int) string {
	if parent != 0 {
		return fmt.Sprintf("%d<%d", n, parent)
	}
	return fmt.Sprint(n)
}

// diskHeld is the bytes the files under dir take on disk.
func diskHeld(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		if info, err := e.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			}
		}
		return nil
	})
	return total
}
