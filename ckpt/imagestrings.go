package ckpt

import (
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Names in the image are bytes, not text: a path may hold any byte but
// NUL ("odd\xff"), an abstract socket name any byte at all.
// encoding/json writes a string that is not UTF-8 with U+FFFD in place of
// its odd bytes, and the restart looked for another name (chdir failed,
// a socket was bound elsewhere). Every such string of the metadata is
// written as bytesMark and the hex of its bytes, and read back from
// them; a string that starts with bytesMark is so written too, so that
// reading back is unambiguous. Other strings are as they were.
const bytesMark = "\uffff"

func escapeString(s string) (string, bool) {
	if utf8.ValidString(s) && !strings.HasPrefix(s, bytesMark) {
		return s, false
	}
	return bytesMark + hex.EncodeToString([]byte(s)), true
}

func unescapeString(s string) (string, bool) {
	h, ok := strings.CutPrefix(s, bytesMark)
	if !ok {
		return s, false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return s, false // not of ours: left to the checks of the metadata
	}
	return string(b), true
}

// mapStrings replaces, in place, every string reachable from v through
// exported fields, pointers, slices, arrays and maps (keys too) by f of
// it.
func mapStrings(v reflect.Value, f func(string) (string, bool)) {
	switch v.Kind() {
	case reflect.String:
		if s, ok := f(v.String()); ok && v.CanSet() {
			v.SetString(s)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() && v.Kind() == reflect.Pointer {
			mapStrings(v.Elem(), f)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if t.Field(i).IsExported() || t.Field(i).Anonymous {
				mapStrings(v.Field(i), f)
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes, base64 in JSON
		}
		for i := 0; i < v.Len(); i++ {
			mapStrings(v.Index(i), f)
		}
	case reflect.Map:
		if v.IsNil() || !v.CanInterface() {
			return // nil, or reached through an unexported field
		}
		type kv struct{ k, v reflect.Value }
		var all []kv
		iter := v.MapRange()
		for iter.Next() {
			k := reflect.New(v.Type().Key()).Elem()
			k.Set(iter.Key())
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(iter.Value())
			all = append(all, kv{k, e})
		}
		for _, x := range all {
			old := x.k.Interface()
			mapStrings(x.k, f)
			mapStrings(x.v, f)
			if !reflect.DeepEqual(old, x.k.Interface()) {
				v.SetMapIndex(reflect.ValueOf(old), reflect.Value{})
			}
			v.SetMapIndex(x.k, x.v)
		}
	}
}

// marshalMeta is json.Marshal of the metadata meta (a pointer), its
// strings that are not UTF-8 written as their bytes; meta is as it was
// after.
func marshalMeta(meta any) ([]byte, error) {
	v := reflect.ValueOf(meta)
	mapStrings(v, escapeString)
	defer mapStrings(v, unescapeString)
	return json.Marshal(meta)
}

// unescapeMeta gives the strings of the metadata meta (a pointer), just
// decoded, their bytes back.
func unescapeMeta(meta any) {
	mapStrings(reflect.ValueOf(meta), unescapeString)
}
