package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"lazarus/jobs"
)

// Job mail (qsub -m, -M): decided from the accounting records as they are
// copied to the files (jobs.MailFor), so a mail follows a change that is
// durable, and is sent at most once. A mail is PBS's: subject "PBS JOB id",
// the job id and name, PBS's message. It goes through the configured
// sendmail ("sendmail -f FROM TO..." with the message on its standard
// input), by one goroutine, at most mail_per_minute a minute, each with a
// timeout; a mail that cannot be sent (no MTA, a failing one, too many) is
// said so in the job's history and the daemon's log, and never changes
// what happens to the job.

// mailTimeout bounds one run of sendmail.
const mailTimeout = 30 * time.Second

// mailQueueLen bounds the mails waiting to be sent; more are dropped.
const mailQueueLen = 256

type mail struct {
	id   jobs.ID
	to   []string
	body string
}

// mailer holds the mails to send and what the accounting writer has seen
// of each job's runs.
type mailer struct {
	queue chan mail
	// aborted: jobs whose current run was ended by the system or deleted
	// (A or D record), whose E record is then no "end" mail.
	mu      sync.Mutex
	aborted map[string]bool
}

func newMailer() *mailer {
	return &mailer{queue: make(chan mail, mailQueueLen), aborted: map[string]bool{}}
}

// checkMTA says once, at start, that job mail cannot be sent.
func (d *Daemon) checkMTA() {
	if err := mtaUsable(d.config().Sendmail); err != nil {
		d.log.Warn("job mail (qsub -m, -M) cannot be sent: undelivered mail is recorded in the jobs' history", "error", err)
	}
}

func mtaUsable(path string) error {
	if path == "" {
		return fmt.Errorf("no sendmail is configured")
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("sendmail %s: %w", path, err)
	}
	if st.Mode()&0o111 == 0 || !st.Mode().IsRegular() {
		return fmt.Errorf("sendmail %s is not an executable file", path)
	}
	return nil
}

// mailRecords queues the mails the records call for.
func (d *Daemon) mailRecords(lines []string) {
	m := d.mail
	if m == nil {
		return
	}
	for _, l := range lines {
		r, err := jobs.ParseAcctRecord(l)
		if err != nil {
			continue
		}
		m.mu.Lock()
		aborted := m.aborted[r.ID]
		switch r.Type {
		case jobs.AcctAborted, jobs.AcctDeleted:
			m.aborted[r.ID] = true
		case jobs.AcctStarted, jobs.AcctRestarted, jobs.AcctEnded, jobs.AcctRerun:
			delete(m.aborted, r.ID)
		}
		m.mu.Unlock()
		point, text := jobs.MailFor(r, aborted)
		if point == 0 || point == jobs.MailAbort && aborted {
			continue // one abort mail a run
		}
		id, err := r.JobID()
		if err != nil {
			continue
		}
		if id.IsArrayForm() {
			id = id.Base() // an array job's record ("12[]")
		}
		j := d.store.View().Job(id)
		if j == nil {
			continue
		}
		points := j.Attrs.MailPoints
		if points == "" {
			points = jobs.DefaultMailPoints
		}
		if !strings.ContainsRune(points, rune(point)) {
			continue
		}
		to := []string{j.Owner.Name}
		if j.Attrs.MailUsers != "" {
			to = strings.Split(j.Attrs.MailUsers, ",")
		}
		body := fmt.Sprintf("From: %s\nTo: %s\nSubject: PBS JOB %s\n\nPBS Job Id: %s\nJob Name:   %s\n%s\n",
			d.config().MailFrom, strings.Join(to, ", "), r.ID, r.ID, j.Name, text)
		select {
		case m.queue <- mail{id: id, to: to, body: body}:
		default:
			d.mailFailed(id, fmt.Errorf("%d mails wait already", mailQueueLen))
		}
	}
}

// mailLoop sends the queued mails, at most mail_per_minute a minute; it
// ends with ctx.
func (d *Daemon) mailLoop(ctx context.Context) {
	var sent []time.Time // in the last minute
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-d.mail.queue:
			now := time.Now()
			for len(sent) > 0 && now.Sub(sent[0]) >= time.Minute {
				sent = sent[1:]
			}
			cfg := d.config()
			if len(sent) >= cfg.MailPerMinute {
				d.mailFailed(m.id, fmt.Errorf("more than %d mails in a minute (mail_per_minute)", cfg.MailPerMinute))
				continue
			}
			sent = append(sent, now)
			if err := sendMail(ctx, cfg.Sendmail, cfg.MailFrom, m); err != nil {
				d.mailFailed(m.id, err)
			} else {
				d.log.Info("job mail sent", "job_id", m.id, "to", strings.Join(m.to, ","))
			}
		}
	}
}

// sendMail runs sendmail for one mail.
func sendMail(ctx context.Context, path, from string, m mail) error {
	if err := mtaUsable(path); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{"-f", from}, m.to...)...)
	cmd.Stdin = strings.NewReader(m.body)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", path, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// mailFailed records an undelivered mail in the job's history.
func (d *Daemon) mailFailed(id jobs.ID, err error) {
	d.log.Warn("job mail not sent", "job_id", id, "error", err)
	now := time.Now().Round(0)
	d.store.UpdateJob(id, func(j *jobs.Job) error {
		j.Event(now, "mail not sent: %v", err)
		return nil
	})
}
