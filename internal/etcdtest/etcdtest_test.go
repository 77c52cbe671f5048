package etcdtest

import (
	"context"
	"testing"
	"time"
)

func put(t *testing.T, c *Cluster, k, v string) {
	t.Helper()
	// A put in flight when a leader dies fails ("request timed out,
	// possibly due to previous leader failure"): clients try again.
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Client().Put(ctx, k, v)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("put %s: %v", k, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(t *testing.T, c *Cluster, k string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := c.Client().Get(ctx, k)
	if err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	if len(r.Kvs) == 0 {
		return ""
	}
	return string(r.Kvs[0].Value)
}

func TestSingleMember(t *testing.T) {
	c := New(t, 1)
	put(t, c, "a", "1")
	if got := get(t, c, "a"); got != "1" {
		t.Errorf("get a = %q, want 1", got)
	}
	// Killed and restarted on its data, it still has what it committed.
	c.Kill(0)
	c.Restart(0)
	if got := get(t, c, "a"); got != "1" {
		t.Errorf("after a restart: get a = %q, want 1", got)
	}
}

func TestThreeMembersSurviveOneKilled(t *testing.T) {
	c := New(t, 3)
	put(t, c, "a", "1")
	c.Kill(0)
	put(t, c, "b", "2")
	if got := get(t, c, "a"); got != "1" {
		t.Errorf("get a = %q", got)
	}
	// Without quorum a write fails (within its deadline), never succeeds.
	c.Kill(1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := c.Client().Put(ctx, "c", "3")
	cancel()
	if err == nil {
		t.Fatal("a write without quorum succeeded")
	}
	c.RestartNoWait(1)
	c.Restart(0)
	if got := get(t, c, "b"); got != "2" {
		t.Errorf("after restarts: get b = %q, want 2", got)
	}
	// The restarted member has caught up.
	m := c.MemberClient(t, 0)
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := m.Get(ctx, "b")
	if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "2" {
		t.Errorf("member 0 after restart: %v, %v", r, err)
	}
}
