package queue

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestQueueCkptCompress: ckpt_compress (or checkpoint_compress) takes
// true, false and default, refuses anything else, and survives a reopen
// of the store.
func TestQueueCkptCompress(t *testing.T) {
	for _, c := range []struct {
		attr, value, get string
		want             int
	}{
		{"ckpt_compress", "true", "true", 1},
		{"ckpt_compress", "false", "false", -1},
		{"checkpoint_compress", "yes", "true", 1},
		{"ckpt_compress", "default", "default", 0},
	} {
		t.Run(c.attr+"="+c.value, func(t *testing.T) {
			q := NewQueue("z", t0)
			q.CkptCompress = 1
			if c.want == 1 {
				q.CkptCompress = -1
			}
			if err := q.Set(c.attr, c.value); err != nil {
				t.Fatal(err)
			}
			if q.CkptCompress != c.want || q.Get("ckpt_compress") != c.get || q.Get("checkpoint_compress") != c.get {
				t.Fatalf("after %s = %s: %d, %q; want %d, %q", c.attr, c.value, q.CkptCompress, q.Get("ckpt_compress"), c.want, c.get)
			}
		})
	}
	q := NewQueue("z", t0)
	if err := q.Set("ckpt_compress", "3"); !errors.Is(err, ErrBadQueue) {
		t.Errorf("ckpt_compress = 3: %v, want %v", err, ErrBadQueue)
	}

	path := filepath.Join(t.TempDir(), "state.db")
	s := openStore(t, path)
	for name, v := range map[string]string{"on": "true", "off": "false", "dflt": "default"} {
		q := NewQueue(name, t0)
		if err := q.Set("ckpt_compress", v); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateQueue(q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = openStore(t, path)
	for name, want := range map[string]string{"on": "true", "off": "false", "dflt": "default"} {
		q := s.View().Queue(name)
		if q == nil || q.Get("ckpt_compress") != want {
			t.Errorf("queue %s after reopen: %+v, want ckpt_compress %s", name, q, want)
		}
	}
}
