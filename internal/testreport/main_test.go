package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunReportsFailuresAndSlowest(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"noise of a passing test\n"}`,
		`{"Action":"pass","Package":"p/a","Test":"TestOK","Elapsed":2.5}`,
		`{"Action":"run","Package":"p/a","Test":"TestBad"}`,
		`{"Action":"output","Package":"p/a","Test":"TestBad","Output":"    bad_test.go:12: got 1, want 2\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestBad","Output":"chkpnt: region noise\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestBad","Output":"--- FAIL: TestBad (0.30s)\n"}`,
		`{"Action":"fail","Package":"p/a","Test":"TestBad","Elapsed":0.3}`,
		`{"Action":"output","Package":"p/a","Output":"FAIL\n"}`,
		`{"Action":"output","Package":"p/a","Output":"FAIL\tp/a\t2.9s\n"}`,
		`{"Action":"fail","Package":"p/a","Elapsed":2.9}`,
		`{"Action":"run","Package":"p/b","Test":"TestHang"}`,
		`{"Action":"output","Package":"p/b","Test":"TestHang","Output":"waiting\n"}`,
		`{"Action":"output","Package":"p/b","Output":"panic: test timed out after 1s\n"}`,
		`{"Action":"fail","Package":"p/b","Elapsed":1}`,
		`{"Action":"output","Package":"p/c","Output":"ok  \tp/c\t0.1s\n"}`,
		`{"Action":"pass","Package":"p/c","Elapsed":0.1}`,
		`# p/d`,
	}, "\n") + "\n"
	var out, log bytes.Buffer
	if run(strings.NewReader(in), &out, &log, 5) {
		t.Errorf("run = true for a stream with failed packages")
	}
	got := out.String()
	for _, want := range []string{
		"bad_test.go:12: got 1, want 2\nchkpnt: region noise\n--- FAIL: TestBad (0.30s)\n",
		"FAIL\tp/a\t2.9s\n",
		"--- (still running) TestHang\nwaiting\n",
		"panic: test timed out after 1s\n",
		"ok  \tp/c\t0.1s\n",
		"# p/d\n",
		"== failed (1 tests; packages p/a p/b)\n--- FAIL: p/a TestBad (0.3s)\n    bad_test.go:12: got 1, want 2\n",
		"== slowest tests\n    2.5s  p/a TestOK\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q; got:\n%s", want, got)
		}
	}
	if strings.Contains(got, "noise of a passing test") {
		t.Errorf("a passing test's output was printed:\n%s", got)
	}
	if log.String() != in {
		t.Errorf("log is not the stream as read")
	}
}

func TestRunAllPassed(t *testing.T) {
	in := `{"Action":"output","Package":"p/c","Output":"ok  \tp/c\t0.1s\n"}` + "\n" + `{"Action":"pass","Package":"p/c","Elapsed":0.1}` + "\n"
	var out, log bytes.Buffer
	if !run(strings.NewReader(in), &out, &log, 5) {
		t.Errorf("run = false for a passing stream; report:\n%s", out.String())
	}
}
