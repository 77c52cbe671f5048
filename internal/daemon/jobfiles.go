package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"lazarus/jobs"
)

// A job's scratch directory (its TMPDIR) and node file (its PBS_NODEFILE)
// live in the state directory, tmp/<id> and aux/<id>, from the job's first
// start to its end: a run restarted from a checkpoint finds the files it
// had open in its TMPDIR, and its PBS_NODEFILE where it was.
const (
	tmpDir = "tmp"
	auxDir = "aux"
)

func (d *Daemon) jobTmpDir(id jobs.ID) string { return filepath.Join(d.dir, tmpDir, id.String()) }

// jobNodeFile is the job's PBS_NODEFILE: in a cluster, in shared_dir
// (aux/<id>, as PBS's PBS_HOME/aux), so that its path is the same on
// every node and a run restored on another node, whose environment is
// the one it started with, reads the hosts of its current placement
// (prepareJobFiles rewrites it before every start and restart).
func (d *Daemon) jobNodeFile(id jobs.ID) string { return filepath.Join(d.auxDir(), id.String()) }

func (d *Daemon) auxDir() string {
	if d.cl != nil && d.cl.shared != "" {
		return filepath.Join(d.cl.shared, auxDir)
	}
	return filepath.Join(d.dir, auxDir)
}

// jobNodeLines are the lines of the job's node file: host once per CPU
// (or per mpiprocs), or the cluster's hosts of its run.
func jobNodeLines(j *jobs.Job, host string) []string {
	if seg, ok := j.Current(); ok && len(seg.Exec) > 0 {
		return clusterNodeLines(j, seg.Exec)
	}
	lines := make([]string, max(j.Resources.NodeLines(), 1))
	for i := range lines {
		lines[i] = host
	}
	return lines
}

// prepareJobFiles makes the job's TMPDIR (owned by the job's user, mode
// 0700; kept if the job already has it) and writes its node file: this
// host, once per CPU (or per mpiprocs), as PBS lists it.
func (d *Daemon) prepareJobFiles(j *jobs.Job) error {
	tmp := d.jobTmpDir(j.ID)
	err := os.Mkdir(tmp, 0o700)
	switch {
	case errors.Is(err, fs.ErrExist):
		// Kept from an earlier run of the job: it must still be the
		// directory made for it (the parent is ours, mode 0711).
		st, err := os.Lstat(tmp)
		if err != nil {
			return err
		}
		sys, _ := st.Sys().(*syscall.Stat_t)
		if !st.IsDir() || sys == nil || d.uid == 0 && sys.Uid != j.Owner.UID {
			return fmt.Errorf("%s is not the job's scratch directory", tmp)
		}
	case err != nil:
		return err
	case d.uid == 0:
		if err := os.Lchown(tmp, int(j.Owner.UID), int(j.Owner.GID)); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	nodes := strings.Join(jobNodeLines(j, d.hostname), "\n") + "\n"
	if err := os.MkdirAll(d.auxDir(), 0o711); err != nil {
		return err
	}
	f, err := os.CreateTemp(d.auxDir(), "."+j.ID.String()+".tmp*")
	if err != nil {
		return err
	}
	_, werr := f.WriteString(nodes)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), 0o644)); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), d.jobNodeFile(j.ID))
}

// dropJobFiles removes a job's TMPDIR and node file once it has ended.
func (d *Daemon) dropJobFiles(id jobs.ID) {
	if err := os.RemoveAll(d.jobTmpDir(id)); err != nil {
		d.log.Warn("cannot remove the job's TMPDIR", "job_id", id, "error", err)
	}
	os.Remove(d.jobNodeFile(id))
}

// sweepJobFiles removes the TMPDIR and node files of jobs that no longer
// exist or have ended (left by a daemon that stopped at the wrong time).
func (d *Daemon) sweepJobFiles() {
	v := d.store.View()
	for _, dir := range []string{filepath.Join(d.dir, tmpDir), d.auxDir()} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			id, err := jobs.ParseID(e.Name())
			if err != nil {
				continue
			}
			if j := v.Job(id); j == nil || j.State.Terminal() {
				d.dropJobFiles(id)
			}
		}
	}
}
