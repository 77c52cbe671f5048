package srun

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// An MPI program cannot be started as N plain processes: each would be
// an MPI job of one rank. Slurm's srun serves the ranks PMI (PMIx, PMI-2)
// itself; here the job's own launcher does it: srun runs Open MPI's
// mpirun or MPICH's mpiexec (hydra) with -n N, which start the ranks as
// their children, inside the job's process tree, where checkpoints see
// them, as the mpirun of a PBS script would. Which MPI a program is
// linked with is read from its ELF dynamic section and those of the
// libraries it needs (debug/elf; nothing of it is run).

// MPI flavours.
const (
	mpiNone    = "none"
	mpiOpenMPI = "openmpi"
	mpiMPICH   = "mpich"
)

// mpiTypes are the --mpi values srun takes, and the flavour each means
// ("" for: what the program is linked with). pmix is Open MPI's
// interface, pmi2 and pmi1 MPICH's; openmpi and mpich (this system's)
// name the MPI of a program srun cannot look into (a script).
var mpiTypes = map[string]string{
	"none": "", "pmix": mpiOpenMPI, "pmi2": mpiMPICH, "pmi1": mpiMPICH, "pmi": mpiMPICH,
	"cray_shasta": "", "openmpi": mpiOpenMPI, "mpich": mpiMPICH, "list": "",
}

// mpiFlavour says which MPI the program at path is run with, and whether
// only --mpi said so: the MPI an ELF program is linked with, whatever
// --mpi says (but none, which starts plain processes); else the one --mpi
// names (pmix: Open MPI, pmi2: MPICH), for a program srun cannot look
// into (a script, an interpreter that loads an MPI, as mpi4py does: the
// launcher runs a program that is not MPI's as plain processes too); else
// none.
func mpiFlavour(path, mpiOpt string) (flavour string, byOption bool) {
	if mpiOpt == "none" {
		return mpiNone, false
	}
	if f := linkedMPI(path); f != mpiNone {
		return f, false
	}
	want := mpiTypes[mpiOpt]
	if strings.HasPrefix(mpiOpt, "pmix_v") {
		want = mpiOpenMPI
	}
	if want != "" {
		return want, true
	}
	return mpiNone, false
}

// linkedMPI reads the libraries path needs, and theirs (a Fortran
// program needs libmpi_mpifh, which needs libmpi), looked for as the
// dynamic loader would: DT_RUNPATH/DT_RPATH, LD_LIBRARY_PATH, the
// directories of ld.so.conf and the default ones.
func linkedMPI(path string) string {
	dirs := libDirs()
	seen := map[string]bool{}
	queue := []string{path}
	for len(queue) > 0 && len(seen) < 64 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		needed, _ := f.DynString(elf.DT_NEEDED)
		var own []string
		for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
			rp, _ := f.DynString(tag)
			for _, r := range rp {
				for _, d := range filepath.SplitList(r) {
					own = append(own, strings.ReplaceAll(d, "$ORIGIN", filepath.Dir(p)))
				}
			}
		}
		f.Close()
		for _, lib := range needed {
			switch {
			case strings.HasPrefix(lib, "libopen-pal.so"), strings.HasPrefix(lib, "libopen-rte.so"),
				strings.HasPrefix(lib, "libmpi.so.40"), strings.HasPrefix(lib, "libmpi_mpifh.so.40"),
				strings.HasPrefix(lib, "libmpi_usempif08.so.40"), strings.HasPrefix(lib, "libmpi_cxx.so.40"):
				return mpiOpenMPI
			case strings.HasPrefix(lib, "libmpich.so"), strings.HasPrefix(lib, "libmpichfort.so"),
				strings.HasPrefix(lib, "libmpichcxx.so"):
				return mpiMPICH
			}
			for _, d := range append(own, dirs...) {
				if full := filepath.Join(d, lib); fileExists(full) {
					queue = append(queue, full)
					break
				}
			}
		}
	}
	return mpiNone
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// libDirs are the directories the dynamic loader searches.
func libDirs() []string {
	var dirs []string
	dirs = append(dirs, filepath.SplitList(os.Getenv("LD_LIBRARY_PATH"))...)
	dirs = append(dirs, ldConf("/etc/ld.so.conf", 0)...)
	return append(dirs, "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib")
}

// ldConf reads an ld.so.conf: its directories and its include globs.
func ldConf(path string, depth int) []string {
	f, err := os.Open(path)
	if err != nil || depth > 4 {
		return nil
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if inc, ok := strings.CutPrefix(line, "include"); ok && (inc == "" || inc[0] == ' ' || inc[0] == '\t') {
			glob := strings.TrimSpace(inc)
			if !filepath.IsAbs(glob) {
				glob = filepath.Join(filepath.Dir(path), glob)
			}
			matches, _ := filepath.Glob(glob)
			for _, m := range matches {
				dirs = append(dirs, ldConf(m, depth+1)...)
			}
			continue
		}
		if line != "" {
			dirs = append(dirs, line)
		}
	}
	return dirs
}

// mpiLauncher finds the launcher of an MPI flavour on PATH: Debian's
// names for each, then the generic ones if they are that MPI's.
func mpiLauncher(flavour string) (string, error) {
	names := []string{"mpirun.openmpi", "mpiexec.openmpi", "orterun"}
	if flavour == mpiMPICH {
		names = []string{"mpiexec.mpich", "mpiexec.hydra", "mpirun.mpich"}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	for _, n := range []string{"mpirun", "mpiexec"} {
		p, err := exec.LookPath(n)
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue
		}
		base := filepath.Base(real)
		isOMPI := strings.Contains(base, "openmpi") || base == "orterun" || base == "prterun"
		isMPICH := strings.Contains(base, "mpich") || strings.Contains(base, "hydra")
		if (flavour == mpiOpenMPI && isOMPI) || (flavour == mpiMPICH && isMPICH) {
			return p, nil
		}
	}
	return "", &exec.Error{Name: names[0], Err: exec.ErrNotFound}
}

// launcherArgs is the command line that starts n ranks of the shim
// (self) under the launcher of flavour.
func launcherArgs(launcher, flavour string, n int, label bool, self string, prog []string) []string {
	args := []string{launcher, "-n", itoa(n)}
	if flavour == mpiOpenMPI {
		// The job's CPUs are what they are: n is what was asked for, as
		// srun -n runs it; and ranks are not bound to cores others
		// share (srun does not bind by default either).
		args = append(args, "--oversubscribe", "--bind-to", "none")
		if os.Geteuid() == 0 {
			args = append(args, "--allow-run-as-root")
		}
		if label {
			args = append(args, "--tag-output")
		}
	} else {
		// Hydra, seeing SLURM_JOBID, would start its proxy through srun:
		// forked here, it is a child in the job's tree like the ranks.
		args = append(args, "-launcher", "fork")
		if label {
			args = append(args, "-prepend-rank")
		}
	}
	args = append(args, self)
	return append(args, prog...)
}

// mpiRankLabel reads the rank tag the launcher put before a line of
// output (Open MPI's --tag-output "[1,R]<stdout>:", MPICH's -prepend-rank
// "[R] ") and returns the rank and the line without it.
func mpiRankLabel(line []byte) (rank int, rest []byte, ok bool) {
	if len(line) < 3 || line[0] != '[' {
		return 0, line, false
	}
	end := strings.IndexByte(string(line), ']')
	if end < 0 {
		return 0, line, false
	}
	inner := string(line[1:end])
	rest = line[end+1:]
	if _, r, found := strings.Cut(inner, ","); found { // Open MPI
		inner = r
		if i := strings.IndexByte(string(rest), ':'); i >= 0 && rest[0] == '<' {
			rest = rest[i+1:]
		}
	} else if len(rest) > 0 && rest[0] == ' ' { // MPICH
		rest = rest[1:]
	}
	rank = 0
	if inner == "" {
		return 0, line, false
	}
	for _, c := range inner {
		if c < '0' || c > '9' {
			return 0, line, false
		}
		rank = rank*10 + int(c-'0')
	}
	return rank, rest, true
}
