// Package queue is the persistent store of the batch system: jobs, their
// queues and the order in which they wait. bbolt is the source of truth;
// go-memdb is an indexed, in-memory view of it (jobs by id, state, owner,
// queue, and pending jobs in queue order), rebuilt from bbolt when the store
// opens.
//
// Invariants:
//
//   - A change is durable in bbolt before it is visible in the view, and
//     before the call that made it returns: the daemon acknowledges and acts
//     only on what survives a crash.
//   - The view is changed in the same order as bbolt, by one committer
//     goroutine that also groups concurrent writes into one bbolt
//     transaction (one fsync for many submissions).
//   - Changes to one job are serialised (UpdateJob, DeleteJob), and queue
//     changes exclude submissions, so a check and the write it guards see
//     the same state.
//   - Values handed out by a View are shared and never mutated; writers copy.
//   - The accounting records of a change (Options.Account) are stored in
//     the change's own transaction, in commit order, and leave the outbox
//     only through AccountingDone.
package queue
