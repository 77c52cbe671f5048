package queue

import (
	"reflect"
	"time"

	"lazarus/jobs"
)

// diskAttrs are a job's PBS attributes and the resources beyond ncpus,
// mem and walltime (schema 2, optional: absent in older records).
type diskAttrs struct {
	Account    string `json:"account,omitempty"`
	Project    string `json:"project,omitempty"`
	Priority   int    `json:"priority,omitempty"`
	Rank       uint64 `json:"rank,omitempty"` // qorder
	Keep       string `json:"keep,omitempty"`
	Shell      string `json:"shell,omitempty"`
	Group      string `json:"group,omitempty"`
	Slurm      bool   `json:"slurm,omitempty"`
	CPUTimeNS  int64  `json:"cput_ns,omitempty"`
	MPIProcs   int    `json:"mpiprocs,omitempty"`
	OMPThreads int    `json:"ompthreads,omitempty"`
	// Schema 5.
	MailPoints string `json:"mail_points,omitempty"`
	MailUsers  string `json:"mail_users,omitempty"`
	Net        string `json:"net,omitempty"` // qsub -l net=private
	// Added without a schema change: an older daemon ignores it.
	Interactive bool `json:"interactive,omitempty"` // qsub -I
	// sbatch --signal and --open-mode=append (added the same way).
	Signal     string `json:"signal,omitempty"`
	OpenAppend bool   `json:"open_append,omitempty"`
	// The script's arguments (added the same way).
	Args []string `json:"args,omitempty"`
	// Cluster placement (the number of chunks, place=, the select of a
	// job of several chunks).
	Chunks int    `json:"chunks,omitempty"`
	Place  string `json:"place,omitempty"`
	Select string `json:"select,omitempty"`
}

func toDiskAttrs(j *jobs.Job) *diskAttrs {
	a, r := j.Attrs, j.Resources
	d := diskAttrs{
		Account: a.Account, Project: a.Project, Priority: a.Priority, Rank: a.Rank, Keep: a.Keep,
		Shell: a.Shell, Group: a.Group, Slurm: a.Slurm, MailPoints: a.MailPoints, MailUsers: a.MailUsers,
		Interactive: a.Interactive, Signal: a.Signal, OpenAppend: a.OpenAppend, Args: a.Args,
		CPUTimeNS: int64(r.CPUTime), MPIProcs: r.MPIProcs, OMPThreads: r.OMPThreads, Net: r.Net,
		Chunks: r.Chunks, Place: r.Place, Select: r.Select,
	}
	if len(d.Args) == 0 {
		d.Args = nil
	}
	if reflect.ValueOf(d).IsZero() {
		return nil
	}
	return &d
}

func (d *diskAttrs) apply(j *jobs.Job) {
	if d == nil {
		return
	}
	j.Attrs = jobs.Attributes{
		Account: d.Account, Project: d.Project, Priority: d.Priority, Rank: d.Rank, Keep: d.Keep,
		Shell: d.Shell, Group: d.Group, Slurm: d.Slurm, MailPoints: d.MailPoints, MailUsers: d.MailUsers,
		Interactive: d.Interactive, Signal: d.Signal, OpenAppend: d.OpenAppend, Args: d.Args,
	}
	j.Resources.CPUTime = time.Duration(d.CPUTimeNS)
	j.Resources.MPIProcs, j.Resources.OMPThreads = d.MPIProcs, d.OMPThreads
	j.Resources.Net = d.Net
	j.Resources.Chunks, j.Resources.Place, j.Resources.Select = d.Chunks, d.Place, d.Select
}
