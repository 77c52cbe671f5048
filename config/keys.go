package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"lazarus/jobs"
)

// key describes one setting; the table below is the single source for the
// parser, Set, the listing and the documentation.
type key struct {
	name   string
	doc    string
	def    string // default, as documented
	parse  func(c *Config, v string) error
	format func(c Config) string
}

var keys = []key{
	{"slots", "CPUs the scheduler hands out to jobs (their ncpus)", "number of CPUs",
		func(c *Config, v string) error { return atoiMin(&c.Slots, v, 1) },
		func(c Config) string { return strconv.Itoa(c.Slots) }},
	{"memory", "memory the scheduler hands out to jobs (their mem); 0: memory is not scheduled", "physical memory",
		func(c *Config, v string) error {
			if v == "0" {
				c.Memory = 0
				return nil
			}
			n, err := jobs.ParseSize(v)
			c.Memory = n
			return err
		},
		func(c Config) string {
			if c.Memory == 0 {
				return "0"
			}
			return jobs.FormatSize(c.Memory)
		}},
	{"default_queue", "queue of jobs submitted without qsub -q", "batch",
		func(c *Config, v string) error {
			if err := ValidateQueueName(v); err != nil {
				return err
			}
			c.DefaultQueue = v
			return nil
		},
		func(c Config) string { return c.DefaultQueue }},
	{"server_name", "the server name of job ids (N.SERVER, as PBS prints them); empty: this host's short name", "host name",
		func(c *Config, v string) error {
			for _, r := range v {
				if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
					return fmt.Errorf("want letters, digits, '-' and '_'")
				}
			}
			if len(v) > 64 {
				return fmt.Errorf("want at most 64 characters")
			}
			c.ServerName = v
			return nil
		},
		func(c Config) string { return c.ServerName }},
	{"max_running", "jobs running at once on this machine; 0: no limit but slots", "0",
		func(c *Config, v string) error { return atoiMin(&c.MaxRunning, v, 0) },
		func(c Config) string { return strconv.Itoa(c.MaxRunning) }},
	{"max_user_running", "jobs running at once per user, all queues; 0: no limit", "0",
		func(c *Config, v string) error { return atoiMin(&c.MaxUserRunning, v, 0) },
		func(c Config) string { return strconv.Itoa(c.MaxUserRunning) }},
	{"max_user_jobs", "jobs one user (not root or an operator) may have, each subjob of an array counted, ended ones included until purged; 0: no limit", "10000",
		func(c *Config, v string) error { return atoiMin(&c.MaxUserJobs, v, 0) },
		func(c Config) string { return strconv.Itoa(c.MaxUserJobs) }},
	{"default_walltime", "walltime of jobs that ask for none (HH:MM:SS); 0: unlimited", "0",
		func(c *Config, v string) error { return walltime(&c.DefaultWalltime, v) },
		func(c Config) string { return formatWalltime(c.DefaultWalltime) }},
	{"max_walltime", "largest walltime a job may ask for (HH:MM:SS); 0: no limit", "0",
		func(c *Config, v string) error { return walltime(&c.MaxWalltime, v) },
		func(c Config) string { return formatWalltime(c.MaxWalltime) }},
	{"kill_grace", "time between SIGTERM and SIGKILL when a job is killed (qdel, walltime)", "10s",
		func(c *Config, v string) error { return duration(&c.KillGrace, v, 0, time.Hour) },
		func(c Config) string { return formatDuration(c.KillGrace) }},
	{"operators", "users, besides root, who manage queues, the server and every job (comma separated)", "none",
		func(c *Config, v string) error {
			c.Operators = nil
			for _, u := range strings.Split(v, ",") {
				if u = strings.TrimSpace(u); u != "" {
					c.Operators = append(c.Operators, u)
				}
			}
			return nil
		},
		func(c Config) string { return strings.Join(c.Operators, ",") }},
	{"query_other_jobs", "whether users see every field of other users' jobs (qstat -f: variables, paths, history); false: only the summary line, as in qstat's table (root and operators see everything)", "false",
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			c.QueryOtherJobs = b
			return nil
		},
		func(c Config) string { return strconv.FormatBool(c.QueryOtherJobs) }},
	{"keep_finished", "how long finished and failed jobs stay in qstat before they are purged", "168h",
		func(c *Config, v string) error {
			return duration(&c.KeepFinished, v, time.Minute, 100*365*24*time.Hour)
		},
		func(c Config) string { return formatDuration(c.KeepFinished) }},
	{"log_level", "daemon log level: debug, info, warn or error", "info",
		func(c *Config, v string) error {
			switch v {
			case "debug", "info", "warn", "error":
				c.LogLevel = v
				return nil
			}
			return fmt.Errorf("want debug, info, warn or error")
		},
		func(c Config) string { return c.LogLevel }},
	{"checkpoint_keep", "checkpoint generations each job keeps to restart from, with the generations they need (a queue's ckpt_keep overrides it)", "2",
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return fmt.Errorf("want a whole number of generations from 1 to 1000")
			}
			c.CheckpointKeep = n
			return nil
		},
		func(c Config) string { return strconv.Itoa(c.CheckpointKeep) }},
	{"checkpoint_compress", "compress the memory in the jobs' images: 0 (no), or the zstd level from 1 (fastest) to 4 (a queue's ckpt_compress overrides it)", "0",
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 4 {
				return fmt.Errorf("want 0 (no compression) or a level from 1 to 4")
			}
			c.CheckpointCompress = n
			return nil
		},
		func(c Config) string { return strconv.Itoa(c.CheckpointCompress) }},
	{"checkpoint_full_every", "one checkpoint generation in this many is self-contained, the others hold only what changed since the one before; a kept generation whose chain is longer is merged (1: all self-contained; a queue's ckpt_full_every overrides it)", "8",
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 32 {
				return fmt.Errorf("want a whole number of generations from 1 to 32")
			}
			c.CheckpointFullEvery = n
			return nil
		},
		func(c Config) string { return strconv.Itoa(c.CheckpointFullEvery) }},
	{"restart_lazy", "restart jobs from their checkpoints lazily: the job runs at once and its memory comes in from the image as it touches it (and in the background), each segment verified first; false: all of it before the job runs", "false",
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			c.RestartLazy = b
			return nil
		},
		func(c Config) string { return strconv.FormatBool(c.RestartLazy) }},
	{"checkpoint_hour", "how long an hour of a checkpoint interval (qsub -c) lasts; shorter only for tests and demonstrations", "1h",
		func(c *Config, v string) error {
			return duration(&c.CheckpointHour, v, 100*time.Millisecond, time.Hour)
		},
		func(c Config) string { return formatDuration(c.CheckpointHour) }},
	{"max_connections", "protocol connections lazarusd takes at once from all users but root; more are refused (busy)", "1024",
		func(c *Config, v string) error { return atoiMin(&c.MaxConnections, v, 1) },
		func(c Config) string { return strconv.Itoa(c.MaxConnections) }},
	{"max_user_connections", "protocol connections lazarusd takes at once from one user; more are refused (busy)", "64",
		func(c *Config, v string) error { return atoiMin(&c.MaxUserConnections, v, 1) },
		func(c Config) string { return strconv.Itoa(c.MaxUserConnections) }},
	{"prologue", "program run as root before a job's run from the start of its script (PBS's mom_priv/prologue); must be owned and writable by root only", "prologue in the state directory, if there",
		func(c *Config, v string) error { return absPath(&c.Prologue, v) },
		func(c Config) string { return c.Prologue }},
	{"epilogue", "program run as root after each run of a job (PBS's mom_priv/epilogue); must be owned and writable by root only", "epilogue in the state directory, if there",
		func(c *Config, v string) error { return absPath(&c.Epilogue, v) },
		func(c Config) string { return c.Epilogue }},
	{"checkpoint_prologue", "program run as root before each checkpoint of a job, to quiesce what the job uses; if it fails the checkpoint is not taken; must be owned and writable by root only", "checkpoint_prologue in the state directory, if there",
		func(c *Config, v string) error { return absPath(&c.CheckpointPrologue, v) },
		func(c Config) string { return c.CheckpointPrologue }},
	{"checkpoint_epilogue", "program run as root after each checkpoint of a job (taken or not), to resume what the prologue quiesced; must be owned and writable by root only", "checkpoint_epilogue in the state directory, if there",
		func(c *Config, v string) error { return absPath(&c.CheckpointEpilogue, v) },
		func(c Config) string { return c.CheckpointEpilogue }},
	{"pelog_timeout", "time the prologue, the epilogue or a checkpoint hook may take before it is killed (PBS: 30s)", "30s",
		func(c *Config, v string) error { return duration(&c.PelogTimeout, v, time.Second, time.Hour) },
		func(c Config) string { return formatDuration(c.PelogTimeout) }},
	{"sendmail", "the mail transfer agent job mail (qsub -m, -M) goes through, run as sendmail -t; empty: no mail", "/usr/sbin/sendmail",
		func(c *Config, v string) error { return absPath(&c.Sendmail, v) },
		func(c Config) string { return c.Sendmail }},
	{"mail_from", "the sender of job mail (PBS's mail_from)", "adm",
		func(c *Config, v string) error {
			if v == "" || strings.ContainsAny(v, " \t\r\n<>,;") {
				return fmt.Errorf("want one address, without spaces")
			}
			c.MailFrom = v
			return nil
		},
		func(c Config) string { return c.MailFrom }},
	{"mail_per_minute", "job mails sent at most per minute; more are dropped (and said so in the job's history)", "30",
		func(c *Config, v string) error { return atoiMin(&c.MailPerMinute, v, 1) },
		func(c Config) string { return strconv.Itoa(c.MailPerMinute) }},
	// Cluster mode: the store in etcd (queue.OpenEtcd) instead of bbolt.
	{"etcd_endpoints", "client URLs of the cluster's etcd members (comma separated); empty: a single host, on its own store", "none",
		func(c *Config, v string) error {
			c.EtcdEndpoints = nil
			for e := range strings.SplitSeq(v, ",") {
				if e = strings.TrimSpace(e); e == "" {
					continue
				}
				u, err := url.Parse(e)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("%q: want URLs such as http://10.0.0.1:2379", e)
				}
				c.EtcdEndpoints = append(c.EtcdEndpoints, e)
			}
			return nil
		},
		func(c Config) string { return strings.Join(c.EtcdEndpoints, ",") }},
	{"etcd_prefix", "the key prefix of the cluster's records in etcd (several clusters may share one etcd)", "/lazarus",
		func(c *Config, v string) error {
			if !strings.HasPrefix(v, "/") || strings.TrimRight(v, "/") == "" || strings.ContainsAny(v, " \t\x00") {
				return fmt.Errorf("want an absolute key path such as /lazarus")
			}
			c.EtcdPrefix = v
			return nil
		},
		func(c Config) string { return c.EtcdPrefix }},
	{"shared_dir", "a directory every node of the cluster reads and writes (job scripts, checkpoint images); required with etcd_endpoints", "none",
		func(c *Config, v string) error { return absPath(&c.SharedDir, v) },
		func(c Config) string { return c.SharedDir }},
	{"etcd_insecure", "accept etcd endpoints without TLS client certificates (http, or no etcd_cert): whoever reaches etcd can then write job records that run as root on every node; only for a network no one but the cluster's root can reach", "false",
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			c.EtcdInsecure = b
			return nil
		},
		func(c Config) string { return strconv.FormatBool(c.EtcdInsecure) }},
	{"etcd_ca", "CA certificate (PEM) that etcd's server certificates are checked against; empty: the system's, when the endpoints are https", "none",
		func(c *Config, v string) error { return absPath(&c.EtcdCA, v) },
		func(c Config) string { return c.EtcdCA }},
	{"etcd_cert", "client certificate (PEM) lazarusd shows etcd (with etcd_key)", "none",
		func(c *Config, v string) error { return absPath(&c.EtcdCert, v) },
		func(c Config) string { return c.EtcdCert }},
	{"etcd_key", "private key (PEM) of etcd_cert", "none",
		func(c *Config, v string) error { return absPath(&c.EtcdKey, v) },
		func(c Config) string { return c.EtcdKey }},
}

func absPath(dst *string, v string) error {
	if v != "" && !strings.HasPrefix(v, "/") {
		return fmt.Errorf("want an absolute path, or nothing")
	}
	*dst = v
	return nil
}

func lookup(name string) (key, bool) {
	for _, k := range keys {
		if k.name == name {
			return k, true
		}
	}
	return key{}, false
}

// Names lists the setting names in documentation order.
func Names() []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.name
	}
	return out
}

// Setting is one setting's current value, for qmgr "list server".
type Setting struct {
	Name, Value, Default, Doc string
}

// Settings lists every setting of c with its documentation.
func (c Config) Settings() []Setting {
	out := make([]Setting, len(keys))
	for i, k := range keys {
		out[i] = Setting{Name: k.name, Value: k.format(c), Default: k.def, Doc: k.doc}
	}
	return out
}

func atoiMin(dst *int, v string, lo int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo {
		return fmt.Errorf("want a whole number of at least %d", lo)
	}
	*dst = n
	return nil
}

func walltime(dst *time.Duration, v string) error {
	if v == "0" {
		*dst = 0
		return nil
	}
	d, err := jobs.ParseWalltime(v)
	if err != nil {
		return fmt.Errorf("want HH:MM:SS or 0")
	}
	*dst = d
	return nil
}

func formatWalltime(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return jobs.FormatDuration(d)
}

// formatDuration writes whole hours and minutes the way they are usually
// typed ("168h", "90m"), the rest as time.Duration does.
func formatDuration(d time.Duration) string {
	switch {
	case d != 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d != 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

func duration(dst *time.Duration, v string, lo, hi time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return fmt.Errorf("want a duration such as 10s or 2h, from %s to %s", lo, hi)
	}
	*dst = d
	return nil
}

// ValidateQueueName checks a queue name: 1 to 64 letters, digits, '_', '-'
// or '.', starting with a letter or digit.
func ValidateQueueName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("queue name %q: want 1 to 64 characters", name)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			i > 0 && (r == '_' || r == '-' || r == '.')
		if !ok {
			return fmt.Errorf("queue name %q: want letters, digits, '_', '-' or '.', starting with a letter or digit", name)
		}
	}
	return nil
}
