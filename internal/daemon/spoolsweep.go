package daemon

import "time"

// spoolSweepAge is how old a file of the shared spool must be before the
// sweep may take it for an orphan: far more than any submission takes to
// commit or fail once its file is written.
const spoolSweepAge = time.Hour

// sweepSpool removes the orphan files of a cluster's shared spool
// (queue.Store.SweepSpool logs each). Only the node that holds the server
// role sweeps: the others would only repeat its reads.
func (d *Daemon) sweepSpool() {
	if d.cl == nil || !d.cl.serving.Load() {
		return
	}
	if _, err := d.store.SweepSpool(spoolSweepAge); err != nil {
		d.log.Warn("spool sweep failed", "error", err)
	}
}
