package integration

// Job mail through a fake sendmail that records what it is given.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSendmail writes a sendmail that appends its arguments and its input
// to a file, then exits with code; it returns the file.
func (b *batch) fakeSendmail(code string) (path, record string) {
	b.t.Helper()
	path = filepath.Join(b.home, "sendmail")
	record = filepath.Join(b.work, "mails")
	script := "#!/bin/sh\n{ echo \"ARGS: $*\"; cat; echo \"--END--\"; } >> " + record + "\nexit " + code + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		b.t.Fatal(err)
	}
	return path, record
}

func TestBatchMail(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	sendmail := filepath.Join(home, "sendmail")
	b := newBatchIn(t, home, "sendmail = "+sendmail+"\nmail_from = batch@test\n", nil)
	_, record := b.fakeSendmail("0")
	mails := func() []string {
		// Whole mails only: what follows the last --END-- is one the
		// fake sendmail is still writing.
		all := strings.Split(b.readFile(record), "--END--\n")
		var out []string
		for _, m := range all[:len(all)-1] {
			if strings.TrimSpace(m) != "" {
				out = append(out, m)
			}
		}
		return out
	}
	ok := b.qsub("-m", "abe", "-M", "alice@example.org,bob", "-N", "mailer", b.script("ok.sh", "#!/bin/sh\nexit 0\n"))
	b.waitState(ok, "finished")
	b.waitFor("two mails", func() bool { return len(mails()) >= 2 })
	m := mails()
	for i, want := range [][]string{
		{"ARGS: -f batch@test alice@example.org bob", "To: alice@example.org, bob", "Subject: PBS JOB " + jobArg(ok) + ".",
			"PBS Job Id: " + jobArg(ok) + ".", "Job Name:   mailer", "Begun execution"},
		{"Execution terminated", "Exit_status=0", "resources_used.cput="},
	} {
		for _, w := range want {
			if !strings.Contains(m[i], w) {
				t.Errorf("mail %d lacks %q:\n%s", i, w, m[i])
			}
		}
	}

	// The default (-m a): nothing for a job that ends by itself, a mail
	// when it is deleted; -m n: none.
	quiet := b.qsub("-m", "n", b.script("fail.sh", "#!/bin/sh\nexit 3\n"))
	b.waitState(quiet, "failed")
	started := filepath.Join(b.work, "started")
	long := b.qsub(b.script("long.sh", "#!/bin/sh\ntouch "+started+"\nsleep 600\n"))
	b.waitFor("the job to run", func() bool { _, err := os.Stat(started); return err == nil })
	b.mustRun("qdel", jobArg(long))
	b.waitState(long, "failed")
	b.waitFor("the abort mail", func() bool { return len(mails()) >= 3 })
	m = mails()
	if len(m) != 3 || !strings.Contains(m[2], "Job deleted at request of root@") || !strings.Contains(m[2], "ARGS: -f batch@test root") {
		t.Errorf("mails after qdel: %q", m)
	}
	if strings.Contains(b.readFile(record), "PBS JOB "+jobArg(quiet)+".") {
		t.Error("a job with -m n got mail")
	}
	if f := b.mustRun("qstat", "-x", "-f", jobArg(ok)); !strings.Contains(f, "Mail_Points = abe") || !strings.Contains(f, "Mail_Users = alice@example.org,bob") {
		t.Errorf("qstat -f:\n%s", f)
	}
}

// A failing MTA changes nothing for the job; its history says so.
func TestBatchMailFails(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	b := newBatchIn(t, home, "sendmail = "+filepath.Join(home, "sendmail")+"\n", nil)
	b.fakeSendmail("75")
	id := b.qsub("-m", "be", b.script("ok.sh", "#!/bin/sh\necho fine\n"))
	b.waitState(id, "finished")
	b.waitFor("the undelivered mail in the history", func() bool {
		return strings.Contains(b.mustRun("qstat", "-x", "-f", jobArg(id)), "mail not sent")
	})
	if r := b.run("qsub", "-M", "-oops", b.script("x.sh", "true\n")); r.code == 0 {
		t.Errorf("qsub -M -oops accepted: %v", r)
	}
}
