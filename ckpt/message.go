package ckpt

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// MessageHandler is a slog.Handler for command-line tools: it prints each
// record's message (and its attributes as key=value) on one line, after a
// prefix such as "chkpnt: ", the way the CONVEX utilities print theirs.
type MessageHandler struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	level  slog.Leveler
	attrs  []slog.Attr
}

// NewMessageHandler returns a handler printing records at level and above.
func NewMessageHandler(w io.Writer, prefix string, level slog.Leveler) *MessageHandler {
	return &MessageHandler{mu: new(sync.Mutex), w: w, prefix: prefix, level: level}
}

func (h *MessageHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *MessageHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.prefix)
	if r.Level >= slog.LevelWarn && r.Level < slog.LevelError {
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *MessageHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *MessageHandler) WithGroup(string) slog.Handler { return h }

// ParseSignal accepts a signal by name (HUP, SIGHUP, hup) or number (1);
// "0" is signal 0, meaning none.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("bad signal number %d", n)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
