package ckpt

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestMetaStringsBytes: strings of the metadata that are not UTF-8 (or
// start with the mark) come back byte for byte from the JSON, and the
// metadata written is left as it was; UTF-8 ones are written as they are.
func TestMetaStringsBytes(t *testing.T) {
	odd := "/tmp/odd\xff\xfe(\xc3"
	meta := &imageMeta{Cwd: odd, Comm: "plain é", Files: []fileDesc{
		{FD: 3, Path: bytesMark + "41", Sock: &unixSock{Name: "\x00abs\x00\xff"}},
		{FD: 4, Path: "/ok/é", Unl: &unlinkedFile{unlinkedExtra: unlinkedExtra{Xattrs: map[string][]byte{"user.\xff": {1}}}}},
	}}
	want := *meta
	js, err := marshalMeta(meta)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Cwd != odd || meta.Files[0].Sock.Name != "\x00abs\x00\xff" {
		t.Errorf("marshalMeta changed the metadata: %q %q", meta.Cwd, meta.Files[0].Sock.Name)
	}
	var got imageMeta
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	if got.Comm != "plain é" || got.Files[1].Path != "/ok/é" {
		t.Errorf("UTF-8 strings written escaped: %q %q", got.Comm, got.Files[1].Path)
	}
	unescapeMeta(&got)
	if got.Cwd != want.Cwd || got.Files[0].Path != want.Files[0].Path || got.Files[0].Sock.Name != want.Files[0].Sock.Name {
		t.Errorf("read back %q %q %q", got.Cwd, got.Files[0].Path, got.Files[0].Sock.Name)
	}
	// Map keys too, through an embedded struct of an unexported type.
	if !reflect.DeepEqual(got.Files[1].Unl.Xattrs, map[string][]byte{"user.\xff": {1}}) {
		t.Errorf("xattr names: %q", got.Files[1].Unl.Xattrs)
	}
}
