package qcmd

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"lazarus/internal/proto"
)

// drainPoll is how often pbsnodes -o --wait looks at the node's jobs.
const drainPoll = 500 * time.Millisecond

// drained is what became of one job of a node being drained.
type drained struct {
	id      uint64
	run     int // index of its run on the node
	gen     int // its newest checkpoint when the drain began
	said    map[string]bool
	outcome string // migrated, requeued, finished, left; "" while on the node
}

// waitDrain follows the drain of node host (pbsnodes -o --wait): one line
// per job as it is checkpointed, stopped, restarted on another node,
// requeued or finished, then a summary. It returns once no job is left
// running on the node; past the drain deadline, once only jobs that are
// left to finish there remain, with an error that names them.
func waitDrain(ctx context.Context, w io.Writer, host string, n proto.NodeInfo) error {
	node, ok := findNode(n, host)
	if !ok {
		return fmt.Errorf("%s: unknown node", host)
	}
	server := n.Server
	deadline := "no deadline"
	if !node.DrainBy.IsZero() {
		deadline = "deadline " + node.DrainBy.Local().Format("2006-01-02 15:04:05")
	}
	if len(node.Jobs) == 0 {
		fmt.Fprintf(w, "%s: offline, no job to drain\n", host)
		return nil
	}
	fmt.Fprintf(w, "%s: offline, draining %d job(s) (%s)\n", host, len(node.Jobs), deadline)
	var reply proto.StatusReply
	if err := call(ctx, proto.OpStatus, proto.StatusRequest{IDs: node.Jobs, Full: true}, &reply); err != nil {
		return err
	}
	var all []*drained
	for _, j := range reply.Jobs {
		all = append(all, &drained{id: j.ID, run: len(j.Segments) - 1, gen: newestGen(j), said: map[string]bool{}})
	}
	for {
		var st proto.StatusReply
		if err := call(ctx, proto.OpStatus, proto.StatusRequest{IDs: node.Jobs, Full: true}, &st); err != nil {
			return err
		}
		var cur proto.NodeInfo
		if err := call(ctx, proto.OpNodes, proto.NodesRequest{}, &cur); err != nil {
			return err
		}
		now, _ := findNode(cur, host)
		byID := map[uint64]proto.JobInfo{}
		for _, j := range st.Jobs {
			byID[j.ID] = j
		}
		for _, d := range all {
			if j, ok := byID[d.id]; ok {
				d.progress(w, j, host, fullID(d.id, server))
			} else if d.outcome == "" {
				d.say(w, fullID(d.id, server)+": gone (deleted)")
				d.outcome = "finished"
			}
		}
		left := now.Jobs
		if len(left) == 0 {
			break
		}
		if !now.DrainBy.IsZero() && time.Now().After(now.DrainBy) && onlyLeftToFinish(byID, left) {
			var ids []string
			for _, d := range all {
				if slices.Contains(left, d.id) {
					d.say(w, fullID(d.id, server)+": left to finish on "+host+" (not rerunnable; the drain deadline passed)")
					d.outcome = "left"
					ids = append(ids, fullID(d.id, server))
				}
			}
			fmt.Fprintln(w, summary(host, all))
			return fmt.Errorf("%s: the drain deadline passed; left to finish there: %s", host, strings.Join(ids, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(drainPoll):
		}
	}
	fmt.Fprintln(w, summary(host, all))
	return nil
}

func (d *drained) say(w io.Writer, line string) {
	if !d.said[line] {
		d.said[line] = true
		fmt.Fprintln(w, line)
	}
}

// progress prints what happened to the job since it was last seen.
func (d *drained) progress(w io.Writer, j proto.JobInfo, host, name string) {
	if d.outcome != "" && d.outcome != "requeued" {
		return
	}
	if d.run >= len(j.Segments) {
		return
	}
	run := j.Segments[d.run]
	if run.End.IsZero() {
		if j.State == "checkpointing" {
			d.say(w, name+": checkpointing")
		}
		return
	}
	if len(j.Segments) == d.run+1 {
		switch j.State {
		case "finished", "failed", "deleted":
			status := ""
			if j.ExitStatus != nil {
				status = fmt.Sprintf(" (exit status %d)", *j.ExitStatus)
			}
			d.say(w, fmt.Sprintf("%s: %s on %s%s", name, j.State, host, status))
			d.outcome = "finished"
		default:
			if g := newestGen(j); g > d.gen {
				d.say(w, fmt.Sprintf("%s: checkpointed (generation %d), stopped", name, g))
			}
			d.say(w, fmt.Sprintf("%s: requeued (%s)", name, run.Reason))
			d.outcome = "requeued"
		}
		return
	}
	next := j.Segments[d.run+1]
	to, _, _ := strings.Cut(j.ExecHost, "/")
	if to == "" {
		to = "another node"
	}
	if next.Restart {
		d.say(w, fmt.Sprintf("%s: checkpointed (generation %d), stopped", name, next.Generation))
		d.say(w, fmt.Sprintf("%s: restarted on %s from generation %d", name, to, next.Generation))
		d.outcome = "migrated"
		return
	}
	d.say(w, fmt.Sprintf("%s: requeued (%s)", name, run.Reason))
	d.say(w, fmt.Sprintf("%s: running again on %s, from the start", name, to))
	d.outcome = "rerun"
}

func summary(host string, all []*drained) string {
	count := map[string]int{}
	for _, d := range all {
		count[d.outcome]++
	}
	var parts []string
	for _, k := range []struct{ key, text string }{
		{"migrated", "migrated"}, {"rerun", "requeued and running again"}, {"requeued", "requeued, waiting to run"},
		{"finished", "ended there"}, {"left", "left to finish there"},
	} {
		if count[k.key] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[k.key], k.text))
		}
	}
	state := "drained"
	if count["left"] > 0 {
		state = "not drained"
	}
	return fmt.Sprintf("%s %s: %s", host, state, strings.Join(parts, ", "))
}

// onlyLeftToFinish reports whether every job left on the node is running
// and not rerunnable: the server leaves those to finish there.
func onlyLeftToFinish(byID map[uint64]proto.JobInfo, left []uint64) bool {
	for _, id := range left {
		j, ok := byID[id]
		if !ok || j.State != "running" || j.Rerunnable == nil || *j.Rerunnable {
			return false
		}
	}
	return true
}

func newestGen(j proto.JobInfo) int {
	g := 0
	for _, c := range j.Checkpoints {
		g = max(g, c.N)
	}
	return g
}

func findNode(n proto.NodeInfo, host string) (proto.NodeInfo, bool) {
	for _, x := range n.Nodes {
		if x.Name == host {
			return x, true
		}
	}
	if len(n.Nodes) == 0 && (host == "" || n.Name == host) {
		return n, true
	}
	return proto.NodeInfo{}, false
}

// moveToNode is qmove -n HOST JOB: the request returns once the job's
// checkpoint has ended; the lines follow the job until it runs on HOST.
func moveToNode(c *cli.Context) error {
	target, _, _ := strings.Cut(c.String("n"), ".")
	if target == "" {
		return fmt.Errorf("-n: want a node name")
	}
	if c.NArg() != 1 {
		return fmt.Errorf("qmove -n HOST: want one job id")
	}
	ids, err := needIDs(c, 0)
	if err != nil {
		return err
	}
	id := uint64(ids[0])
	var before proto.StatusReply
	if err := call(c.Context, proto.OpStatus, proto.StatusRequest{IDs: []uint64{id}, Full: true}, &before); err != nil {
		return err
	}
	if len(before.Jobs) != 1 {
		return fmt.Errorf("unknown job id %s", c.Args().First())
	}
	j := before.Jobs[0]
	from, _, _ := strings.Cut(j.ExecHost, "/")
	name := fullID(id, before.Server)
	w := c.App.Writer
	fmt.Fprintf(w, "%s: moving from %s to %s: checkpointing\n", name, from, target)
	d := &drained{id: id, run: len(j.Segments) - 1, gen: newestGen(j), said: map[string]bool{name + ": checkpointing": true}}
	var reply proto.JobReply
	if err := call(c.Context, proto.OpMove, proto.MoveRequest{ID: id, Node: target}, &reply); err != nil {
		return err
	}
	for {
		var st proto.StatusReply
		if err := call(c.Context, proto.OpStatus, proto.StatusRequest{IDs: []uint64{id}, Full: true}, &st); err != nil {
			return err
		}
		if len(st.Jobs) != 1 {
			return fmt.Errorf("%s: gone (deleted) before it restarted on %s", name, target)
		}
		d.progress(w, st.Jobs[0], from, name)
		switch d.outcome {
		case "migrated":
			return nil
		case "finished", "rerun":
			return fmt.Errorf("%s: did not restart on %s", name, target)
		}
		select {
		case <-c.Context.Done():
			return c.Context.Err()
		case <-time.After(drainPoll):
		}
	}
}
