// Package cluster is a lazarusd's membership of a cluster whose shared
// state lives in etcd: the node's registration under a lease that is its
// heartbeat, the election of the one server daemon, the administrative
// state of nodes (offline), and the forwarding of requests to the node
// that runs a job. It does no scheduling (package scheduler decides) and
// knows nothing of jobs; the daemon wires it to the store.
//
// # Keys (under the cluster prefix, etcd_prefix)
//
//	nodes/<name>              Info of a node that is up, put under its lease:
//	                          the key vanishes when the lease expires
//	known/<name>              the last Info a node registered, without a lease:
//	                          where a gone node's checkpoints may restart
//	admin/<name>              Admin: offline (pbsnodes -o) and the comment
//	server/<lease>            concurrency.Election of the server daemon, on the
//	                          node's own lease
//	requests/<name>/<id>      a request forwarded to node <name> (forward.go),
//	                          under the sender's lease
//	replies/<id>              its reply, under the handler's lease
//
// # Invariants and the fencing rule
//
//   - A node's lease is granted with TTL seconds and renewed every TTL/3
//     by KeepAliveOnce. etcd expires the lease no earlier than TTL after
//     it granted the last renewal, which is after the renewal was sent.
//   - The node's deadline is the time the last successful renewal was
//     sent plus its TTL less Margin (measured on CLOCK_BOOTTIME, which
//     counts suspended time). Until then the lease is certainly alive.
//     Every renewal hands the daemon the new deadline (Options.Renewed),
//     which it writes where its job supervisors read it.
//   - Fencing: a supervisor whose node's deadline has passed kills its
//     job at once (no checkpoint: the server may already have requeued the
//     job and restarted it elsewhere from its last recorded generation, so
//     a new generation could not be recorded safely, and would only lose
//     against that run). The node's daemon being stopped (SIGSTOP, a
//     hang) or cut off from etcd cannot delay this: the supervisors check
//     the deadline themselves. So the jobs of a node are dead before its
//     lease expires, and the server acts only after it expired: no two
//     copies of a job run at once.
//   - The server acts (schedules, requeues the jobs of lost nodes) only
//     while its own deadline is ahead (Node.Valid): its election key is
//     under its lease, so until then no other daemon can have been elected.
//   - A daemon that stops leaves its lease to expire; one restarted on the
//     same state directory within the TTL resumes it (the lease id is kept
//     in a file), so an upgrade does not lose the node's jobs.
//   - A node whose lease was lost registers again under a new lease; runs
//     placed under the old one are not its anymore (the daemon compares
//     the lease recorded with each run).
package cluster
