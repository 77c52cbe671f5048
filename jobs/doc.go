// Package jobs is the batch job model and its state machine: what a job is
// (owner, script, queue, resources, checkpoint policy, run segments,
// checkpoint generations) and which state changes are legal. It does no I/O
// and depends on the standard library only; the store (package queue)
// persists jobs and the daemon applies the changes decided here. It also
// reads what a job script asks for: its #PBS directives, and its #SBATCH
// directives translated into qsub options (ParseDirectives), each refusal
// naming its line.
//
// # States
//
//	  qsub                 qsub -h
//	   │                      │
//	   ▼         qhold        ▼
//	queued ─────────────────► held ◄──────────┐
//	   │   ◄───────────────── │ │             │ qhold
//	   │          qrls        │ │ qrestart    │
//	   │ started                ▼             │
//	   │                     requeued ◄───────┴─────────────┐
//	   ▼         started        │                           │
//	running ◄───────────────────┘                           │
//	 │ │ │ │                                                │
//	 │ │ │ └─ checkpoint ─► checkpointing ─► running        │
//	 │ │ │                        └─ stopped after it ──────┤ (held, with qchkpnt -k -h)
//	 │ │ └─ processes gone without exit status, and a       │
//	 │ │    checkpoint or rerunnable; stopped to requeue ───┘
//	 │ └─ qdel ─► exiting ─► failed (or finished if it exited 0 first)
//	 ├─ exit status 0 ─► finished ──────────┐
//	 └─ exit status ≠ 0, signal, walltime, memory, cannot start,
//	    lost and not restartable ─► failed ─┴─ qrestart ─► requeued
//
// A job that starts again restarts from its newest good checkpoint (or the
// one qrestart -g asked for) when it has one.
//
// An array job (Array set) never runs itself: it is queued, begun once one
// of its subjobs has started, held while held, and finished or failed once
// every subjob has ended or was deleted (Settle). Its subjobs have no
// record until they start (array.go); from then on each is a job of its
// own, through the states above. A job held for its dependencies
// (Depend.Waiting) is released, or fails without a run when they can
// never be met (Cancel).
//
// The table in state.go is the authority; the diagram is its picture.
// qdel removes a queued, requeued or held job outright (its accounting
// record is a D). A job that ran keeps its record in finished or failed
// until the daemon purges it; its accounting records (accounting.go:
// Changes decides them from each change of the record) stay in the
// accounting log.
//
// # Invariants
//
//   - A job has an open run segment exactly when its state is running,
//     exiting or checkpointing (State.Active).
//   - Segments are appended and never rewritten once closed, so CPU time adds
//     up across restarts (the CONVEX accounting rule: a restarted run accounts
//     only for what it consumed itself).
//   - Checkpoint generations are newest first; their numbers are never
//     reused (LastGeneration); a generation is recorded only once durable,
//     and at most the newest keep good ones stay, never fewer than one.
//   - A job is checkpointing exactly when it has a CheckpointOp; at most one
//     checkpoint of a job is in progress.
//   - A run restarted from a checkpoint records the generation; a failed
//     restore marks it bad and falls back to an older one, then to the
//     beginning of the script for a rerunnable job.
//   - Jobs shared through the store are never mutated: Copy, change, store.
//   - A subjob has a record exactly when its array's state byte for it is
//     not SubQueued, SubHeld or SubDeleted; a satisfied dependency stays
//     satisfied (Cond.Done).
package jobs
