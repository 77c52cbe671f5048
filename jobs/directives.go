package jobs

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultDirectivePrefix starts the PBS directives of a job script (qsub
// -C and PBS_DPREFIX change it).
const DefaultDirectivePrefix = "#PBS"

// SlurmPrefix starts the Slurm directives of a job script; they are
// translated into qsub options.
const SlurmPrefix = "#SBATCH"

// Directive is one qsub option given in a job script. Slurm directives
// are translated: Opt and Arg are the qsub option they stand for, and
// Slurm holds the Slurm option as written.
type Directive struct {
	Line  int    // 1-based line number in the script
	Opt   string // qsub option letter without "-": "l", "N", "V"...
	Arg   string // its argument; "" for a flag
	Slurm string // "--time=10" for a translated #SBATCH option; "" for #PBS
}

// Name is the option as the script gave it, for messages: "#PBS -l" or
// "#SBATCH --time".
func (d Directive) Name() string {
	if d.Slurm != "" {
		name, _, _ := strings.Cut(d.Slurm, "=")
		return SlurmPrefix + " " + name
	}
	return DefaultDirectivePrefix + " -" + d.Opt
}

// DirectiveError is a job script directive that is refused: its line, the
// option as written, and why.
type DirectiveError struct {
	Line   int
	Option string // "#PBS -J", "#SBATCH --array", or the line's text
	Err    error
}

func (e *DirectiveError) Error() string {
	return fmt.Sprintf("line %d: %s: %v", e.Line, e.Option, e.Err)
}

func (e *DirectiveError) Unwrap() error { return e.Err }

// pbsOptions are qsub's options: true for those that take an argument.
// Those refused in a script are refused by RefusedOption, with a reason.
var pbsOptions = map[byte]bool{
	'a': true, 'A': true, 'c': true, 'C': true, 'e': true, 'j': true, 'J': true,
	'k': true, 'l': true, 'm': true, 'M': true, 'N': true, 'o': true, 'p': true,
	'P': true, 'q': true, 'r': true, 'R': true, 'S': true, 'u': true, 'v': true,
	'W': true, 't': true, 'd': true,
	'h': false, 'V': false, 'z': false, 'I': false, 'X': false, 'f': false, 'G': false,
}

// RefusedOption says why a qsub option that PBS has is not honoured here
// ("" when it is). It is the same answer on the command line and in a
// script.
func RefusedOption(opt, arg string) error {
	switch opt {
	case "X":
		return fmt.Errorf("X11 forwarding is not supported: this system forwards no X display to jobs")
	case "G":
		return fmt.Errorf("a GUI job (-G) is a Windows feature of PBS and is not supported")
	case "R":
		return fmt.Errorf("removing output files of a successful job (-R) is not supported")
	}
	return nil
}

// ParseDirectives reads the directives of a job script: the lines that
// start with prefix (#PBS; "" reads none) or with #SBATCH, up to the first
// line that is neither blank nor a comment, as PBS and Slurm do. A "#PBS"
// line is parsed like qsub's command line (quotes group words; a word
// starting with "#" begins a comment; blanks before the prefix, or none
// after it, "#PBS-N x", are PBS's too); a "#SBATCH" line is translated
// into qsub options. Refused: a script with CRLF line ends (as PBS does:
// the shell would not run it), an unknown or unsupported option, a
// directive after the first command or an indented #SBATCH (PBS and
// Slurm would ignore them, and a silently ignored directive is worse
// than an error). Errors are *DirectiveError.
func ParseDirectives(script []byte, prefix string) ([]Directive, error) {
	if i := bytes.Index(script, []byte("\r\n")); i >= 0 {
		line := bytes.Count(script[:i], []byte("\n")) + 1
		return nil, &DirectiveError{Line: line, Option: "CRLF line end", Err: fmt.Errorf(
			"the script is written in DOS/Windows text format (convert it with dos2unix)")}
	}
	var out []Directive
	firstCommand := 0
	for n, raw := range strings.Split(string(script), "\n") {
		line := n + 1
		trimmed := strings.TrimLeft(raw, " \t")
		isPBS := prefix != "" && hasDirective(trimmed, prefix)
		isSlurm := hasDirective(trimmed, SlurmPrefix)
		switch {
		case isPBS || isSlurm:
			name := prefix
			if !isPBS {
				name = SlurmPrefix
			}
			if firstCommand > 0 {
				return nil, &DirectiveError{Line: line, Option: name, Err: fmt.Errorf(
					"directive after the first command (line %d), which PBS and Slurm ignore: move it above that line",
					firstCommand)}
			}
			if trimmed != raw && !isPBS {
				// PBS skips the blanks before its prefix (pbs_ispbsdir);
				// sbatch reads only lines that start with #SBATCH.
				return nil, &DirectiveError{Line: line, Option: name, Err: fmt.Errorf(
					"indented directive, which Slurm ignores: start the line with %s", name)}
			}
			words, err := splitWords(trimmed[len(name):])
			if err != nil {
				return nil, &DirectiveError{Line: line, Option: name, Err: err}
			}
			var ds []Directive
			if isPBS {
				ds, err = pbsDirectives(line, words)
			} else {
				ds, err = slurmDirectives(line, words)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, ds...)
		case trimmed == "" || trimmed[0] == '#':
		default:
			if firstCommand == 0 {
				firstCommand = line
			}
		}
	}
	return out, nil
}

// hasDirective reports whether line starts with the directive prefix,
// followed by a blank, the end of the line or, for PBS, an option:
// "#PBS-l mem=4gb" is a directive to PBS, whose qsub reads what follows
// its prefix, whatever it is.
func hasDirective(line, prefix string) bool {
	if !strings.HasPrefix(line, prefix) {
		return false
	}
	rest := line[len(prefix):]
	return rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '-' && prefix != SlurmPrefix
}

// splitWords splits a directive into words as a shell would: blanks
// separate words, single and double quotes group them (and are removed),
// and a word that starts with "#" begins a comment.
func splitWords(s string) ([]string, error) { return shellWords(s, true) }

// SplitArgs splits the arguments of qsub -F into words as splitWords
// does, "#" an ordinary character.
func SplitArgs(s string) ([]string, error) { return shellWords(s, false) }

func shellWords(s string, comments bool) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '#' && !inWord && comments:
			return words, nil
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unbalanced quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// pbsDirectives parses the words of one #PBS line as getopt would:
// "-N name", "-Nname", "-hV".
func pbsDirectives(line int, words []string) ([]Directive, error) {
	var out []Directive
	for i := 0; i < len(words); i++ {
		w := words[i]
		if len(w) < 2 || w[0] != '-' || w == "--" {
			return nil, &DirectiveError{Line: line, Option: DefaultDirectivePrefix + " " + w, Err: fmt.Errorf(
				"not an option (a script or command cannot be given in a directive)")}
		}
		for k := 1; k < len(w); k++ {
			opt := w[k]
			takesArg, known := pbsOptions[opt]
			name := DefaultDirectivePrefix + " -" + string(opt)
			if !known {
				return nil, &DirectiveError{Line: line, Option: name, Err: fmt.Errorf("unknown option")}
			}
			if opt == 'C' {
				return nil, &DirectiveError{Line: line, Option: name, Err: fmt.Errorf(
					"-C cannot be a directive (give it to qsub)")}
			}
			if !takesArg {
				out = append(out, Directive{Line: line, Opt: string(opt)})
				continue
			}
			arg := w[k+1:]
			if arg == "" {
				if i+1 >= len(words) {
					return nil, &DirectiveError{Line: line, Option: name, Err: fmt.Errorf("missing argument")}
				}
				i++
				arg = words[i]
			}
			out = append(out, Directive{Line: line, Opt: string(opt), Arg: arg})
			break
		}
	}
	for _, d := range out {
		if err := RefusedOption(d.Opt, d.Arg); err != nil {
			return nil, &DirectiveError{Line: line, Option: d.Name(), Err: err}
		}
	}
	return out, nil
}

// slurmOption is how one sbatch option is translated.
type slurmOption struct {
	long, short string
	arg         bool
	// translate returns the qsub options the Slurm option stands for.
	translate func(arg string) ([]Directive, error)
}

func one(opt, arg string) []Directive { return []Directive{{Opt: opt, Arg: arg}} }

func refuse(format string, args ...any) func(string) ([]Directive, error) {
	return func(string) ([]Directive, error) {
		return nil, fmt.Errorf(format, args...)
	}
}

// slurmOptions are the sbatch options translated; any other is refused.
var slurmOptions = []slurmOption{
	{"job-name", "J", true, func(a string) ([]Directive, error) { return one("N", a), nil }},
	{"time", "t", true, func(a string) ([]Directive, error) {
		d, err := ParseSlurmTime(a)
		if err != nil {
			return nil, err
		}
		return one("l", "walltime="+FormatDuration(d)), nil
	}},
	{"mem", "", true, func(a string) ([]Directive, error) {
		n, err := ParseSlurmMem(a)
		if err != nil {
			return nil, err
		}
		return one("l", "mem="+FormatSize(n)), nil
	}},
	{"mem-per-cpu", "", true, func(a string) ([]Directive, error) {
		n, err := ParseSlurmMem(a)
		if err != nil {
			return nil, err
		}
		return one(SlurmMemPerCPU, strconv.FormatInt(n, 10)), nil
	}},
	{"cpus-per-task", "c", true, func(a string) ([]Directive, error) { return one("l", "ncpus="+a), nil }},
	{"ntasks", "n", true, tasks},
	{"ntasks-per-node", "", true, tasks},
	{"tasks-per-node", "", true, tasks},
	// Accepted, with no effect here (sbatch --help lists them): they
	// tune a scheduler or a node this system does not have, and change
	// nothing a job computes or writes on this host.
	{"qos", "q", true, noEffect},
	{"comment", "", true, noEffect},
	{"hint", "", true, noEffect},
	{"threads-per-core", "", true, noEffect},
	{"ntasks-per-core", "", true, noEffect},
	{"get-user-env", "", false, noEffect},
	{"time-min", "", true, func(a string) ([]Directive, error) {
		// The job may be given less than --time; it is given --time.
		_, err := ParseSlurmTime(a)
		return nil, err
	}},
	{"kill-on-invalid-dep", "", true, noEffect}, // a job whose dependency cannot be met is cancelled here anyway
	{"wait-all-nodes", "", true, noEffect},
	{"nice", "", true, noEffect}, // --nice=N: no other job here to be nice to
	{"signal", "", true, func(a string) ([]Directive, error) {
		if _, err := ParseSlurmSignal(a); err != nil {
			return nil, err
		}
		return one(SlurmSignalOpt, a), nil
	}},
	{"open-mode", "", true, func(a string) ([]Directive, error) {
		switch a {
		case "append", "truncate":
			return one(SlurmOpenMode, a), nil
		}
		return nil, fmt.Errorf("--open-mode=%s: want append or truncate", a)
	}},
	{"exclusive", "", false, refuse("jobs share this host: ask for its CPUs and memory instead")},
	{"nodes", "N", true, onlyOne("nodes", "not translated: use #PBS -l select=N:ncpus=C with -l place=scatter for N hosts")},
	{"output", "o", true, func(a string) ([]Directive, error) { return one("o", a), nil }},
	{"error", "e", true, func(a string) ([]Directive, error) { return one("e", a), nil }},
	{"partition", "p", true, func(a string) ([]Directive, error) { return one("q", a), nil }},
	{"account", "A", true, func(a string) ([]Directive, error) { return one("A", a), nil }},
	{"chdir", "D", true, func(a string) ([]Directive, error) {
		if a == "" {
			return nil, fmt.Errorf("--chdir=: want a directory")
		}
		return one(Chdir, a), nil
	}},
	{"requeue", "", false, func(string) ([]Directive, error) { return one("r", "y"), nil }},
	{"no-requeue", "", false, func(string) ([]Directive, error) { return one("r", "n"), nil }},
	{"export", "", true, func(a string) ([]Directive, error) {
		switch a {
		case "ALL":
			return one("V", ""), nil
		case "NONE":
			return one(SlurmExportNone, ""), nil
		}
		// [ALL,]NAME[=value],...: the variables named (qsub -v); with
		// ALL, the whole environment too, else only those (as sbatch).
		var vars []string
		all := false
		for _, item := range strings.Split(a, ",") {
			switch {
			case item == "ALL":
				all = true
			case item == "NONE" || item == "NIL":
				return nil, fmt.Errorf("--export=%s: %s with variables", a, item)
			case item == "":
				return nil, fmt.Errorf("--export=%s: empty variable", a)
			default:
				vars = append(vars, item)
			}
		}
		out := []Directive{{Opt: "v", Arg: strings.Join(vars, ",")}}
		if all {
			return append(out, Directive{Opt: "V"}), nil
		}
		return append(out, Directive{Opt: SlurmExportNone}), nil
	}},
	{"mail-type", "", true, func(a string) ([]Directive, error) {
		points := ""
		for _, t := range strings.Split(strings.ToUpper(a), ",") {
			switch t {
			case "NONE":
				points = "n"
			case "BEGIN":
				points += "b"
			case "END":
				points += "e"
			case "FAIL":
				points += "a"
			case "ALL":
				points += "abe"
			case "TIME_LIMIT", "TIME_LIMIT_90", "TIME_LIMIT_80", "TIME_LIMIT_50":
				points += "a" // a job over its limit is aborted: the abort mail
			case "REQUEUE", "ARRAY_TASKS", "INVALID_DEPEND", "STAGE_OUT":
				// No mail of their own here: a requeued job mails when
				// it begins again, an array's tasks as the array does.
			default:
				return nil, fmt.Errorf("--mail-type=%s: want NONE, BEGIN, END, FAIL, ALL, TIME_LIMIT[_90/_80/_50], REQUEUE, ARRAY_TASKS, INVALID_DEPEND or STAGE_OUT (only NONE, BEGIN, END, FAIL and ALL send mail of their own)", t)
			}
		}
		if strings.Contains(points, "n") && points != "n" {
			return nil, fmt.Errorf("--mail-type=%s: NONE with other types", a)
		}
		uniq := ""
		for _, r := range points {
			if !strings.ContainsRune(uniq, r) {
				uniq += string(r)
			}
		}
		if uniq == "" {
			return nil, nil
		}
		return one("m", uniq), nil
	}},
	{"mail-user", "", true, func(a string) ([]Directive, error) { return one("M", a), nil }},
	{"array", "a", true, func(a string) ([]Directive, error) {
		if _, err := ParseArray(a); err != nil {
			return nil, err
		}
		return one(SlurmArray, a), nil
	}},
	{"dependency", "d", true, func(a string) ([]Directive, error) {
		if _, err := ParseSlurmDepend(a); err != nil {
			return nil, err
		}
		return one(SlurmDependency, a), nil
	}},
}

// SlurmSignalOpt is the pseudo-option --signal translates to, in
// Slurm's form (ParseSlurmSignal).
const SlurmSignalOpt = "slurm-signal"

// SlurmOpenMode is the pseudo-option --open-mode translates to: append
// or truncate (the default) the output and error files.
const SlurmOpenMode = "slurm-open-mode"

func noEffect(string) ([]Directive, error) { return nil, nil }

// SlurmArray is the pseudo-option --array translates to: its list of
// indices (which PBS's -J, a single range, cannot hold).
const SlurmArray = "slurm-array"

// SlurmDependency is the pseudo-option --dependency translates to, in
// Slurm's form (ParseSlurmDepend).
const SlurmDependency = "slurm-dependency"

// SlurmMemPerCPU is the pseudo-option --mem-per-cpu translates to (its
// argument in bytes): qsub asks for that much memory per CPU of the job.
const SlurmMemPerCPU = "slurm-mem-per-cpu"

// SlurmExportNone is the pseudo-option --export=NONE translates to: the
// job does not get the submitter's environment (a Slurm job gets it by
// default, as if with qsub -V).
const SlurmExportNone = "slurm-export-none"

// SlurmNTasks is the pseudo-option --ntasks (and, on this one host,
// --ntasks-per-node) translates to: qsub asks for select=1 with that many
// mpiprocs, each of --cpus-per-task CPUs (ompthreads), as an MPI program
// started by mpirun on $PBS_NODEFILE expects.
const SlurmNTasks = "slurm-ntasks"

func tasks(a string) ([]Directive, error) {
	n, err := strconv.Atoi(a)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("tasks=%s: want a whole number of tasks above 0", a)
	}
	if n == 1 {
		return nil, nil
	}
	return one(SlurmNTasks, a), nil
}

func onlyOne(what, why string) func(string) ([]Directive, error) {
	return func(a string) ([]Directive, error) {
		if a == "1" || a == "1-1" {
			return nil, nil
		}
		return nil, fmt.Errorf("%s=%s: %s", what, a, why)
	}
}

// slurmDirectives translates the words of one #SBATCH line.
func slurmDirectives(line int, words []string) ([]Directive, error) {
	var out []Directive
	for i := 0; i < len(words); i++ {
		w := words[i]
		var opt *slurmOption
		var arg string
		hasArg := false
		switch {
		case strings.HasPrefix(w, "--") && len(w) > 2:
			name, val, ok := strings.Cut(w[2:], "=")
			opt = lookupSlurmLong(name) // --out: --output, as getopt_long takes it
			arg, hasArg = val, ok
		case len(w) >= 2 && w[0] == '-' && w[1] != '-':
			for k := range slurmOptions {
				if slurmOptions[k].short == w[1:2] {
					opt = &slurmOptions[k]
				}
			}
			if len(w) > 2 {
				arg, hasArg = strings.TrimPrefix(w[2:], "="), true
			}
		}
		if opt == nil {
			name, _, _ := strings.Cut(w, "=")
			return nil, &DirectiveError{Line: line, Option: SlurmPrefix + " " + name, Err: fmt.Errorf(
				"this sbatch option is not translated")}
		}
		name := SlurmPrefix + " --" + opt.long
		switch {
		case opt.arg && !hasArg:
			if i+1 >= len(words) {
				return nil, &DirectiveError{Line: line, Option: name, Err: fmt.Errorf("missing argument")}
			}
			i++
			arg = words[i]
		case !opt.arg && hasArg:
			return nil, &DirectiveError{Line: line, Option: name, Err: fmt.Errorf("takes no argument")}
		}
		ds, err := opt.translate(arg)
		if err != nil {
			return nil, &DirectiveError{Line: line, Option: name, Err: err}
		}
		for _, d := range ds {
			d.Line = line
			d.Slurm = "--" + opt.long
			if opt.arg {
				d.Slurm += "=" + arg
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// ParseSlurmTime parses sbatch --time: minutes, minutes:seconds,
// hours:minutes:seconds, days-hours, days-hours:minutes or
// days-hours:minutes:seconds.
func ParseSlurmTime(s string) (time.Duration, error) {
	bad := fmt.Errorf("--time=%s: %w (want MM, MM:SS, HH:MM:SS or D-HH[:MM[:SS]])", s, ErrBadResource)
	if s == "" || s == "UNLIMITED" || s == "INFINITE" || s == "-1" {
		return 0, bad
	}
	days := uint64(0)
	rest := s
	hasDays := false
	if ds, r, ok := strings.Cut(s, "-"); ok {
		n, err := strconv.ParseUint(ds, 10, 16)
		if err != nil {
			return 0, bad
		}
		days, rest, hasDays = n, r, true
	}
	fields := strings.Split(rest, ":")
	nums := make([]uint64, len(fields))
	for i, f := range fields {
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return 0, bad
		}
		nums[i] = n
	}
	var h, m, sec uint64
	switch {
	case hasDays && len(nums) == 1:
		h = nums[0]
	case hasDays && len(nums) == 2:
		h, m = nums[0], nums[1]
	case len(nums) == 3:
		h, m, sec = nums[0], nums[1], nums[2]
	case !hasDays && len(nums) == 1:
		m = nums[0]
	case !hasDays && len(nums) == 2:
		m, sec = nums[0], nums[1]
	default:
		return 0, bad
	}
	total := ((days*24+h)*60+m)*60 + sec
	if total == 0 || total > 100*365*24*3600 {
		return 0, bad
	}
	return time.Duration(total) * time.Second, nil
}

// ParseSlurmMem parses sbatch --mem: a whole number with an optional unit
// K, M, G or T (powers of 1024); without one, megabytes.
func ParseSlurmMem(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("--mem=: %w (want a size such as 4G)", ErrBadResource)
	}
	if strings.Trim(s, "0") == "" {
		return 0, fmt.Errorf("--mem=%s: all of the host's memory is not a request this system takes: give a size", s)
	}
	last := s[len(s)-1]
	if last >= '0' && last <= '9' {
		s += "mb"
	}
	n, err := ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("--mem=%s: %w (want a size such as 4G)", s, ErrBadResource)
	}
	return n, nil
}

// Chdir is Torque's qsub -d, which sbatch --chdir (-D) translates to: the
// directory the job runs in (absolute, or relative to qsub's).
const Chdir = "d"

// ExpandSlurmFilename expands sbatch's filename patterns in p: %% is a %,
// and %X, with an optional zero-padding width between % and the letter
// (job%4j.out), is value(X). A letter value does not know is refused.
func ExpandSlurmFilename(p string, value func(letter byte) (string, bool)) (string, error) {
	if !strings.Contains(p, "%") {
		return p, nil
	}
	var out strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			out.WriteByte(p[i])
			continue
		}
		k := i + 1
		for k < len(p) && p[k] >= '0' && p[k] <= '9' {
			k++
		}
		if k >= len(p) {
			return "", fmt.Errorf("%s: a %% without a pattern letter at its end", p)
		}
		if p[k] == '%' && k == i+1 {
			out.WriteByte('%')
			i = k
			continue
		}
		v, ok := value(p[k])
		if !ok {
			return "", fmt.Errorf("%s: %%%c is not a filename pattern this system expands (%%j %%J %%A %%a %%x %%u %%N %%n %%t %%s %%%%)", p, p[k])
		}
		if k > i+1 {
			width, _ := strconv.Atoi(p[i+1 : k])
			if width > 10 {
				width = 10 // Slurm pads to at most 10 digits
			}
			for n := len(v); n < width; n++ {
				out.WriteByte('0')
			}
		}
		out.WriteString(v)
		i = k
	}
	return out.String(), nil
}

// SlurmFilenameLetters are the pattern letters ExpandSlurmFilename is
// given values of, with a placeholder each: for checking a path at
// submission.
func SlurmFilenameLetters(letter byte) (string, bool) {
	switch letter {
	case 'j', 'J', 'A', 'a', 'x', 'u', 'N', 'n', 't', 's':
		return "0", true
	}
	return "", false
}
