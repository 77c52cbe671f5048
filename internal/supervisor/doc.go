// Package supervisor runs one batch job: it is the job's parent, waits for
// its whole process tree, enforces walltime (and memory, through a memory
// cgroup where the machine has one), kills the tree when asked, and records
// how the run ended durably in the job's run directory. It outlives the
// daemon: lazarusd starts it as a separate process ("lazarusd supervise
// RUNDIR") in a session of its own, so that killing lazarusd or its process
// group never reaches a job, and a restarted daemon finds the supervisor,
// or its record, in the run directory.
//
// # Run directory
//
//	run/<job id>/
//	    lock             flock held by the supervisor for its whole life: the
//	                     daemon takes it before starting the supervisor and
//	                     hands it over, so "lock held" means "supervisor
//	                     alive", with no window and no pid reuse question
//	    spec.json        what to run (Spec), written by the daemon
//	    supervisor.json  pids and start times of the supervisor and the job (Info)
//	    exit.json        how the run ended (Record); written once, atomically
//	    supervisor.log   the supervisor's log
//	    checkpoint.lock  flock held by a checkpoint helper for its whole life
//	    checkpoint.json  the last checkpoint's result (CheckpointResult)
//	    checkpoint.log   the checkpoint helpers' log
//	    tty.sock         an interactive run's socket: the daemon hands the
//	                     client's connection over on it (interactive.go)
//	    requeue.json     written (durably) before a checkpoint that stops the
//	                     job, or before it is killed to be requeued: a run
//	                     that then ends killed was stopped on purpose
//
// # Process tree
//
// The supervisor makes itself a child subreaper (PR_SET_CHILD_SUBREAPER):
// processes of the job whose parents die are reparented to it rather than
// to init, so every process of the job stays a descendant, is found by a
// scan of /proc, and is reaped by it. The job's CPU time is then the
// supervisor's RUSAGE_CHILDREN: every process of the tree was waited for by
// its parent or by the supervisor.
//
// The job's first process is started by a Launcher: the script, through a
// small helper ("lazarusd exec-job") that switches to the job's user,
// enters its working directory, opens its output files as that user and
// execs the script; with a root daemon, the helper is first the init of new
// PID, mount and IPC namespaces (ckpt.Namespaced), so that the script is
// pid 1 there and its SysV IPC ids are its own (a restart gets them back). Or the tree is restored from a checkpoint image (ckpt.Restart),
// which makes the supervisor its parent. The job never holds a descriptor
// of the supervisor's.
//
// In a namespace, the job's script is the init, which gets only the
// signals it catches: to kill the job, the supervisor sends SIGTERM to the
// rest of the tree and stops the script (SIGSTOP, which an init cannot
// refuse), then kills it once the rest is gone.
//
// # Checkpoints
//
// Checkpoints are taken by another process, the helper "lazarusd
// checkpoint-job" (Checkpoint), never by the supervisor: see checkpoint.go.
package supervisor
