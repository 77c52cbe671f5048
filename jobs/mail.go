package jobs

import (
	"fmt"
	"strings"
)

// Mail points (qsub -m): a, b, e, or n for none. PBS's default is a.
const (
	MailAbort = 'a' // the batch system ended the job: it could not start, was lost, deleted, or over a limit
	MailBegin = 'b' // a run began (started or restarted from a checkpoint)
	MailEnd   = 'e' // the job ended by itself
	MailNone  = "n"
	// DefaultMailPoints is what a job that gives no -m gets, as in PBS.
	DefaultMailPoints = "a"
)

// ParseMailPoints parses qsub -m: n, or any of a, b and e; it returns
// them in a canonical order.
func ParseMailPoints(s string) (string, error) {
	if s == MailNone {
		return s, nil
	}
	var out []byte
	for _, p := range []byte{MailAbort, MailBegin, MailEnd} {
		if strings.IndexByte(s, p) >= 0 {
			out = append(out, p)
		}
	}
	if s == "" || strings.Trim(s, "abe") != "" {
		return "", fmt.Errorf("-m %q: %w (want n, or any of a, b and e)", s, ErrBadAttribute)
	}
	return string(out), nil
}

// ParseMailUsers parses qsub -M: a comma-separated list of user or
// user@host. Nothing that a mail program could take for an option, or a
// header, gets through.
func ParseMailUsers(s string) (string, error) {
	var out []string
	for _, u := range strings.Split(s, ",") {
		u = strings.TrimSpace(u)
		if u == "" || len(u) > 256 || strings.HasPrefix(u, "-") || strings.ContainsAny(u, " \t\r\n\"'<>()[];:\\,") {
			return "", fmt.Errorf("-M %q: %w (want user or user@host, comma separated)", s, ErrBadAttribute)
		}
		out = append(out, u)
	}
	return strings.Join(out, ","), nil
}

// MailFor says which mail an accounting record calls for, and its text
// (PBS's messages): aborted says that the job's run was ended by the
// system or deleted (an A or D record came before the E record), which
// makes its end an abort. point is 0 when the record calls for none.
func MailFor(r AcctRecord, aborted bool) (point byte, text string) {
	switch r.Type {
	case AcctStarted:
		return MailBegin, "Begun execution"
	case AcctRestarted:
		return MailBegin, "Begun execution (restarted from checkpoint " + r.Get("checkpoint") + ")"
	case AcctDeleted:
		return MailAbort, "Job deleted at request of " + r.Get("requestor")
	case AcctAborted:
		return MailAbort, "Aborted by PBS Server \n" + r.Get("reason")
	case AcctEnded:
		status := r.Get("Exit_status")
		used := []string{"Exit_status=" + status}
		for _, f := range r.Fields {
			if strings.HasPrefix(f.Key, "resources_used.") {
				used = append(used, f.Key+"="+f.Value)
			}
		}
		if aborted {
			return 0, ""
		}
		switch status {
		case fmt.Sprint(ExecKillWalltime):
			return MailAbort, "Aborted by PBS Server \nJob exceeded resource walltime\n" + strings.Join(used, "\n")
		case fmt.Sprint(ExecKillCPUT):
			return MailAbort, "Aborted by PBS Server \nJob exceeded resource cput\n" + strings.Join(used, "\n")
		case fmt.Sprint(ExecKillMem):
			return MailAbort, "Aborted by PBS Server \nJob exceeded resource mem\n" + strings.Join(used, "\n")
		}
		return MailEnd, "Execution terminated\n" + strings.Join(used, "\n")
	}
	return 0, ""
}
