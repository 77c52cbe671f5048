package daemon

import (
	"os"
	"path/filepath"
	"testing"
)

// appendRecords after a crash: a torn last line is cut and written again,
// records the file already ends with are not written twice.
func TestAppendRecords(t *testing.T) {
	a := "12/02/2026 01:00:00;Q;1.h;queue=batch\n"
	b := "12/02/2026 01:00:01;S;1.h;user=u\n"
	c := "12/02/2026 01:00:02;E;1.h;Exit_status=0\n"
	for _, tc := range []struct {
		name, before string
		lines        []string
		want         string
	}{
		{"new file", "", []string{a, b}, a + b},
		{"appended", a, []string{b, c}, a + b + c},
		{"all written before the crash", a + b, []string{a, b}, a + b},
		{"some written", a + b, []string{b, c}, a + b + c},
		{"torn line", a + b[:10], []string{b, c}, a + b + c},
		{"zeros after a crash", a + "\x00\x00\x00", []string{b}, a + b},
		{"same text earlier is not this record", a + b + c, []string{a}, a + b + c + a},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "20261202")
			if tc.before != "" {
				if err := os.WriteFile(path, []byte(tc.before), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			if err := appendRecords(path, tc.lines); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("file %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAcctDay(t *testing.T) {
	if got := acctDay("12/02/2026 01:00:00;Q;1.h;queue=batch\n"); got != "20261202" {
		t.Errorf("acctDay = %q", got)
	}
}
