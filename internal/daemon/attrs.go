package daemon

import (
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"lazarus/internal/proto"
	"lazarus/jobs"
)

// pbsAttrs validates a submission's PBS attributes (-A -P -p -k -S -u -W
// group_list -W umask) into j: the ones this system acts on change the
// job (its group, its shell), the others are recorded.
func (d *Daemon) pbsAttrs(who caller, req *proto.SubmitRequest, j *jobs.Job) error {
	for _, s := range []struct{ opt, val string }{{"-A", req.Account}, {"-P", req.Project}} {
		if len(s.val) > 256 || strings.ContainsFunc(s.val, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return badRequest("%s %q: want at most 256 printable characters", s.opt, s.val)
		}
	}
	a := jobs.Attributes{Account: req.Account, Project: req.Project, Slurm: req.Slurm}
	var err error
	if req.Signal != "" {
		sig, err := jobs.ParseSlurmSignal(req.Signal)
		if err != nil {
			return badRequest("%v", err)
		}
		a.Signal = sig.String()
	}
	a.OpenAppend = req.OpenAppend
	if err := checkScriptArgs(req.Args); err != nil {
		return err
	}
	a.Args = req.Args
	if req.Priority != "" {
		if a.Priority, err = jobs.ParsePriority(req.Priority); err != nil {
			return err
		}
	}
	if req.MailPoints != "" {
		if a.MailPoints, err = jobs.ParseMailPoints(req.MailPoints); err != nil {
			return err
		}
	}
	if req.MailUsers != "" {
		if a.MailUsers, err = jobs.ParseMailUsers(req.MailUsers); err != nil {
			return err
		}
	}
	if req.Keep != "" {
		if a.Keep, err = jobs.ParseKeep(req.Keep); err != nil {
			return err
		}
	}
	if req.Shell != "" {
		if a.Shell, err = jobs.PickForHost(req.Shell, d.hostname); err != nil {
			return badRequest("-S %v", err)
		}
		if !filepath.IsAbs(a.Shell) {
			return badRequest("-S %s: want the absolute path of the shell", a.Shell)
		}
	}
	if req.UserList != "" {
		u, err := jobs.PickForHost(req.UserList, d.hostname)
		if err != nil {
			return badRequest("-u %v", err)
		}
		if u != who.name && u != strconv.FormatUint(uint64(who.uid), 10) {
			return denied("-u %s: a job runs only as the user who submits it (%s)", u, who.name)
		}
	}
	if req.Umask != "" {
		if _, err := jobs.ParseUmask(req.Umask); err != nil {
			return err
		}
	}
	if req.GroupList != "" {
		g, err := jobs.PickForHost(req.GroupList, d.hostname)
		if err != nil {
			return badRequest("-W group_list=%v", err)
		}
		grp, err := user.LookupGroup(g)
		if err != nil {
			if grp, err = user.LookupGroupId(g); err != nil {
				return badRequest("-W group_list=%s: no such group", g)
			}
		}
		n, err := strconv.ParseUint(grp.Gid, 10, 32)
		if err != nil {
			return badRequest("-W group_list=%s: group id %q", g, grp.Gid)
		}
		gid := uint32(n)
		switch {
		case gid != who.gid && !slices.Contains(who.groups, gid):
			return denied("-W group_list=%s: %s is not a member of group %s", g, who.name, grp.Name)
		case gid != who.gid && d.uid != 0:
			return denied("-W group_list=%s: lazarusd is not root, so a job runs with the daemon's own group", g)
		}
		if !slices.Contains(j.Owner.Groups, j.Owner.GID) {
			j.Owner.Groups = append(slices.Clone(j.Owner.Groups), j.Owner.GID)
		}
		j.Owner.GID, a.Group = gid, grp.Name
	}
	j.Attrs = a
	return nil
}

// jobPaths sets the output paths that depend on the job's id: the
// defaults, -k (a kept stream goes to the owner's home under its default
// name, as PBS keeps it on the execution host), and the %j %x %A %a of a
// translated #SBATCH --output or --error.
func (d *Daemon) jobPaths(j *jobs.Job, req *proto.SubmitRequest) {
	j.Stdout = outputPath(req.Stdout, j.Workdir, j.Name, "o", j.ID)
	j.Stderr = outputPath(req.Stderr, j.Workdir, j.Name, "e", j.ID)
	if k := j.Attrs.Keep; k != "" {
		home := lookupPasswd(j.Owner.UID).home
		if jobs.KeepsInHome(k, "o") {
			j.Stdout = outputPath("", home, j.Name, "o", j.ID)
		}
		if jobs.KeepsInHome(k, "e") {
			j.Stderr = outputPath("", home, j.Name, "e", j.ID)
		}
	}
	if j.Attrs.Slurm {
		j.Stdout, j.Stderr = slurmPattern(j.Stdout, j), slurmPattern(j.Stderr, j)
	}
}

// slurmPattern expands sbatch's filename patterns: %j, %J (jobid.stepid,
// which for the batch script Slurm writes as the job id alone) and %A (the job id;
// %A is an array's id, which a job that is not an array shares), %x (the
// name), %a (the array index: 4294967294 for a job that is not an array,
// as Slurm writes it), %u (the user), %N (the short host name), %n and %t
// (the node and task number: 0), %s (the step: batch), %% (a %), each
// with an optional zero-padding width (%4j). A pattern qsub did not
// check (an older qsub) is left as it is.
func slurmPattern(p string, j *jobs.Job) string {
	out, err := jobs.ExpandSlurmFilename(p, func(l byte) (string, bool) {
		switch l {
		case 'j', 'J', 'A':
			return j.ID.String(), true
		case 'a':
			return "4294967294", true
		}
		return slurmCommon(l, j)
	})
	if err != nil {
		return p
	}
	return out
}

// slurmCommon is the value of the filename patterns that are the same for
// a job and a subjob.
func slurmCommon(l byte, j *jobs.Job) (string, bool) {
	switch l {
	case 'x':
		return j.Name, true
	case 'u':
		return j.Owner.Name, true
	case 'N':
		h, _ := os.Hostname()
		h, _, _ = strings.Cut(h, ".")
		return h, true
	case 'n', 't':
		return "0", true
	case 's':
		return "batch", true
	}
	return "", false
}

// Bounds of a job script's arguments, kept with the job: far below what
// execve takes, far above what a job script is given.
const (
	maxScriptArgs     = 4096
	maxScriptArgBytes = 64 << 10
)

// checkScriptArgs validates the arguments a submission gives its script.
func checkScriptArgs(args []string) error {
	if len(args) > maxScriptArgs {
		return badRequest("%d script arguments: at most %d", len(args), maxScriptArgs)
	}
	n := 0
	for _, a := range args {
		n += len(a) + 1
		if strings.ContainsRune(a, 0) {
			return badRequest("script argument %q holds a NUL byte", a)
		}
	}
	if n > maxScriptArgBytes {
		return badRequest("script arguments of %d bytes: at most %d", n, maxScriptArgBytes)
	}
	return nil
}
