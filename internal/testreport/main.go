// Command testreport reads `go test -json` on its standard input and prints
// what a plain `go test` prints (a line per package, the whole output of each
// failed test), then two summaries that a CI log's tail keeps even when a
// failed test wrote thousands of lines: the failed tests with their first
// error lines, and the slowest tests. It is what `make test` pipes through;
// its exit status is go test's, given with -status (the pipe loses it).
//
// The full -json stream is also written to the file named by -log, if any,
// so that a failure can be read whole afterwards.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type key struct{ pkg, test string }

type result struct {
	key
	elapsed float64
	errors  []string // a failed test's first error lines
}

// errorLine is what testing's t.Errorf/t.Fatalf print: "    name_test.go:123: ...".
var errorLine = regexp.MustCompile(`^\s+\S+_test\.go:\d+: `)

func main() {
	logPath := flag.String("log", "", "also write the -json stream to this `file`")
	slowest := flag.Int("slowest", 15, "list this many of the slowest tests")
	flag.Parse()
	var logw io.Writer = io.Discard
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
			os.Exit(2)
		}
		defer f.Close()
		logw = f
	}
	ok := run(os.Stdin, os.Stdout, logw, *slowest)
	if !ok {
		os.Exit(1)
	}
}

// run copies the stream and prints the report; it says whether every package
// passed.
func run(in io.Reader, out, logw io.Writer, slowest int) bool {
	output := map[key][]string{} // a running test's output, dropped when it passes
	var failed, done []result
	var failedPkgs []string
	allOK := true
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		fmt.Fprintf(logw, "%s\n", line)
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event: the build's own output (a compile error).
			fmt.Fprintf(out, "%s\n", line)
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			output[k] = append(output[k], e.Output)
		case "pass", "skip":
			if e.Test == "" {
				printPackage(out, output[k])
			} else if e.Action == "pass" && !strings.Contains(e.Test, "/") {
				done = append(done, result{key: k, elapsed: e.Elapsed})
			}
			delete(output, k)
		case "fail":
			if e.Test != "" {
				failed = append(failed, result{k, e.Elapsed, firstErrors(output[k], 3)})
				for _, s := range output[k] {
					fmt.Fprint(out, s)
				}
				delete(output, k)
				continue
			}
			allOK = false
			failedPkgs = append(failedPkgs, e.Package)
			// A timeout or a panic: what the tests still running printed.
			for ok, lines := range output {
				if ok.pkg == e.Package && ok.test != "" {
					fmt.Fprintf(out, "--- (still running) %s\n", ok.test)
					for _, s := range lines {
						fmt.Fprint(out, s)
					}
					delete(output, ok)
				}
			}
			printPackage(out, output[k])
			delete(output, k)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testreport: reading go test's output: %v\n", err)
		allOK = false
	}
	if len(failed) > 0 || len(failedPkgs) > 0 {
		fmt.Fprintf(out, "\n== failed (%d tests; packages %s)\n", len(failed), strings.Join(failedPkgs, " "))
		for _, r := range failed {
			fmt.Fprintf(out, "--- FAIL: %s %s (%.1fs)\n", r.pkg, r.test, r.elapsed)
			for _, s := range r.errors {
				fmt.Fprintf(out, "%s\n", s)
			}
		}
	}
	sort.Slice(done, func(i, j int) bool { return done[i].elapsed > done[j].elapsed })
	if len(done) > slowest {
		done = done[:slowest]
	}
	if len(done) > 0 {
		fmt.Fprintf(out, "\n== slowest tests\n")
		for _, r := range done {
			fmt.Fprintf(out, "%8s  %s %s\n", time.Duration(r.elapsed*float64(time.Second)).Round(100*time.Millisecond), r.pkg, r.test)
		}
	}
	return allOK
}

// printPackage prints a package's own lines (ok/FAIL/no test files), without
// the run markers and the bare PASS that plain go test does not print either.
func printPackage(out io.Writer, lines []string) {
	for _, s := range lines {
		if strings.HasPrefix(s, "=== ") || strings.HasPrefix(s, "PASS") {
			continue
		}
		fmt.Fprint(out, s)
	}
}

// firstErrors returns the first n error lines of a test's output.
func firstErrors(lines []string, n int) []string {
	var r []string
	for _, s := range lines {
		if errorLine.MatchString(s) {
			r = append(r, strings.TrimRight(s, "\n"))
			if len(r) == n {
				break
			}
		}
	}
	return r
}
