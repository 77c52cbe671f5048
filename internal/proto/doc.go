// Package proto is the protocol between the batch commands (qsub, qstat,
// qdel, qhold, qrls, qchkpnt, qrestart, qmgr) and lazarusd, and the client
// side of it.
//
// # Transport
//
// lazarusd listens on a unix stream socket, lazarusd.sock in its state
// directory ($LAZARUS_HOME, default /var/lib/lazarus). The socket is
// world-writable: who the caller is comes from the kernel, never from a
// request. The daemon reads SO_PEERCRED (uid, gid, pid) and SO_PEERGROUPS
// (supplementary groups) of each connection; a job runs with exactly those
// ids.
//
// # Messages
//
// A connection carries any number of requests, one after the other; each
// request is one JSON object on one line, answered by one JSON object on
// one line (JSON lines, as written by encoding/json). A request line may be
// at most MaxLine bytes, a submission's MaxSubmitLine (the daemon tells it
// from "op", which must come before "body", as encoding/json writes it); a
// longer line gets a bad_request error and the connection is closed.
//
// The daemon limits connections per uid and in all (max_user_connections,
// max_connections in lazarus.conf): a connection over a limit gets a busy
// error line without having sent anything, and is closed. Clients read a
// reply even when sending their request failed, to show that error. A
// connection idle for two minutes is closed; Client reconnects before its
// next request when it finds its connection closed. A client that hangs up
// while its request is handled cancels it (wait ends; maintain goes on).
//
//	request:  {"version":1,"op":"submit","body":{...}}
//	success:  {"version":1,"ok":true,"body":{...}}
//	failure:  {"version":1,"ok":false,"error":{"code":"not_found","message":"job 42: no such job"}}
//
// A long operation (maintain) may send progress lines before its reply:
// responses with "ok" true and a "progress" text, which clients show as
// they come and which are not the reply:
//
//	progress: {"version":1,"ok":true,"progress":"job 3: checkpoint 2, 1.0 GiB in 2.9s"}
//
// version is the protocol version (Version). A daemon answers a request of
// a version it does not speak with the error code "bad_version" and its
// own version in the message; a client refuses a reply of another version.
// New optional fields may be added to bodies without a version change;
// removing or changing the meaning of one needs a new version.
//
// Error codes: bad_request (malformed or invalid request: unknown queue,
// bad resource syntax...), bad_version, not_found (unknown job or queue),
// permission (not the owner, not an operator), conflict (the job or queue
// is in the wrong state for the request), unavailable (the daemon is
// shutting down), busy (the caller has too many connections, or the daemon
// too many large requests in memory: the same request may succeed later),
// failed (the operation was tried and failed: a
// checkpoint), internal (the daemon failed; see its log). message is one
// line meant for the user.
//
// # Operations
//
//	op             body                 reply body        who may
//	ping           -                    PingReply         anyone
//	submit         SubmitRequest        SubmitReply       anyone (the job is theirs)
//	status         StatusRequest        StatusReply       anyone
//	wait           WaitRequest          WaitReply         anyone
//	hold           JobRequest           JobReply          owner, operator
//	release        JobRequest           JobReply          owner, operator
//	delete         JobRequest           JobReply          owner, operator
//	queue.create   QueueRequest         QueueReply        operator
//	queue.delete   QueueRequest         QueueReply        operator
//	queue.set      QueueRequest         QueueReply        operator
//	queue.list     QueueRequest         QueuesReply       anyone
//	server.set     ServerSetRequest     ServerReply       operator
//	server.list    -                    ServerReply       anyone
//	shutdown       -                    -                 operator
//	checkpoint     CheckpointRequest    CheckpointReply   owner, operator
//	restart        RestartRequest       JobReply          owner, operator
//	adopt          AdoptRequest         SubmitReply       anyone (the job is theirs; they must own the image's processes)
//	maintain       MaintainRequest      MaintainReply     operator (progress lines)
//	scheduling     SchedulingRequest    -                 operator
//	attach         AttachRequest        AttachReply       the job's owner, root (then frames: term.go)
//
// Operators are root, the user the daemon runs as, and the users named by
// "operators" in lazarus.conf.
//
// A submit with a Key is idempotent: the daemon stores the key (scoped by
// the caller's uid) with the job, in the same transaction, and answers a
// submission whose key names one of the caller's existing jobs with that
// job's id, storing nothing. qsub sends a random key (NewKey) and, when
// the connection is lost before the reply, sends the request once more
// with the same key (CallRetry).
//
// attach (qsub -I, qrestart --attach) waits until the job's run has a
// terminal and answers once; the connection is then handed to the job's
// supervisor and carries terminal frames, not JSON lines (term.go).
//
// wait returns when every listed job has left the state the client saw
// (or is gone), or after TimeoutMS with Done false; clients call it again
// to wait longer (qstat -w).
package proto
