package ckpt

import (
	"bytes"
	"math/rand"
	"testing"
)

// A segment's MAC depends on its bytes, its image and its place, never on
// how the bytes were cut when they went by (the writer and the restore
// read in pieces of their own).
func TestDataMAC(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	meta := bytes.Repeat([]byte{9}, 32)
	data := make([]byte, 3*macChunk+12345)
	rand.New(rand.NewSource(1)).Read(data)
	sum := func(key, meta []byte, index int, data []byte, pieces ...int) []byte {
		m := newDataMAC(key, meta, index)
		for len(data) > 0 {
			k := len(data)
			if len(pieces) > 0 {
				k, pieces = min(k, pieces[0]), append(pieces[1:], pieces[0])
			}
			m.Write(data[:k])
			data = data[k:]
		}
		return m.Sum(nil)
	}
	want := sum(key, meta, 0, data)
	for _, pieces := range [][]int{{1}, {4096}, {macChunk}, {macChunk - 1, 2}, {512 << 10}, {7, macChunk + 3}} {
		if got := sum(key, meta, 0, data, pieces...); !bytes.Equal(got, want) {
			t.Errorf("written in pieces of %v: another MAC", pieces)
		}
	}
	m := newDataMAC(key, meta, 0)
	m.Write(data[:100])
	m.Reset()
	m.Write(data)
	if !bytes.Equal(m.Sum(nil), want) {
		t.Error("Reset does not start again")
	}
	flipped := append([]byte(nil), data...)
	for _, at := range []int{0, macChunk - 1, macChunk, 2*macChunk + 5, len(data) - 1} {
		flipped[at] ^= 1
		if bytes.Equal(sum(key, meta, 0, flipped), want) {
			t.Errorf("a bit flipped at %d does not change the MAC", at)
		}
		flipped[at] ^= 1
	}
	other := append(bytes.Repeat([]byte{8}, 1), key[1:]...)
	for name, got := range map[string][]byte{
		"another key":   sum(other, meta, 0, data),
		"another image": sum(key, other, 0, data),
		"another place": sum(key, meta, 1, data),
		"shorter":       sum(key, meta, 0, data[:len(data)-1]),
		"longer":        sum(key, meta, 0, append(append([]byte(nil), data...), 0)),
	} {
		if bytes.Equal(got, want) {
			t.Errorf("%s: the same MAC", name)
		}
	}
}
