package proto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	frames := []struct {
		typ     byte
		payload []byte
	}{
		{FrameData, []byte("echo hi\r")},
		{FrameWinsize, Winsize(40, 120)},
		{FrameData, nil},
		{FrameExit, []byte(`{"status":7}`)},
	}
	for _, f := range frames {
		if err := WriteFrame(&buf, f.typ, f.payload); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(&buf)
	for _, want := range frames {
		typ, b, err := ReadFrame(r)
		if err != nil {
			t.Fatal(err)
		}
		if typ != want.typ || !bytes.Equal(b, want.payload) {
			t.Errorf("got frame %q %q, want %q %q", typ, b, want.typ, want.payload)
		}
	}
	if _, _, err := ReadFrame(r); !errors.Is(err, io.EOF) {
		t.Errorf("after the last frame: %v, want EOF", err)
	}
	rows, cols, err := ParseWinsize(Winsize(40, 120))
	if err != nil || rows != 40 || cols != 120 {
		t.Errorf("window size %d x %d (%v), want 40 x 120", rows, cols, err)
	}
	if _, _, err := ParseWinsize([]byte{1}); err == nil {
		t.Error("a 1-byte window size frame was accepted")
	}
}

func TestFrameLimits(t *testing.T) {
	if err := WriteFrame(io.Discard, FrameData, make([]byte, MaxFrame+1)); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("writing an oversized frame: %v, want ErrFrameTooLong", err)
	}
	// A header announcing more than MaxFrame is refused before anything
	// is allocated; a truncated payload is an unexpected EOF.
	huge := []byte{FrameData, 0xff, 0xff, 0xff, 0xff}
	if _, _, err := ReadFrame(bufio.NewReader(bytes.NewReader(huge))); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("reading an oversized frame: %v, want ErrFrameTooLong", err)
	}
	short := []byte{FrameData, 0, 0, 0, 9, 'a'}
	if _, _, err := ReadFrame(bufio.NewReader(bytes.NewReader(short))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading a truncated frame: %v, want ErrUnexpectedEOF", err)
	}
}
