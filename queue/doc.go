// Package queue is the persistent store of the batch system: jobs, their
// queues and the order in which they wait. The records live in a backend,
// the source of truth: a bbolt file on a single host (Open, boltstore.go),
// or etcd for a cluster, where several daemons share one prefix
// (OpenEtcd, etcd.go). go-memdb is an indexed, in-memory view of it (jobs
// by id, state, owner, queue, and pending jobs in queue order), loaded
// when the store opens and, on etcd, kept current by a watch.
//
// Invariants:
//
//   - A change is durable in the backend before it is visible in the view,
//     and before the call that made it returns: the daemon acknowledges and
//     acts only on what survives a crash.
//   - The view is changed in the backend's order, by one goroutine: bbolt's
//     committer, which also groups concurrent writes into one transaction
//     (one fsync for many submissions), or etcd's watcher, which applies
//     every node's changes in revision order.
//   - Changes to one job are serialised (UpdateJob, DeleteJob), and queue
//     changes exclude submissions, so a check and the write it guards see
//     the same state. On etcd, where other nodes write too, a write
//     compares the revisions of the records it was computed from, and is
//     computed again from the newer records when another node changed them.
//   - Values handed out by a View are shared and never mutated; writers copy.
//   - The accounting records of a change (Options.Account) are stored in
//     the change's own transaction, in commit order, and leave the outbox
//     only through AccountingDone.
package queue
