package proc

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestParseStat(t *testing.T) {
	line := []byte("123 (a) b (c)) S 45 123 123 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 98765 1 2")
	st, err := parseStat(123, line)
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != 45 || st.State != 'S' || st.StartTime != 98765 {
		t.Errorf("parseStat = %+v", st)
	}
	if _, err := parseStat(1, []byte("1 (x) S 0")); err == nil {
		t.Error("short line accepted")
	}
}

func TestIdentityAndDescendants(t *testing.T) {
	self, err := IdentityOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !self.Alive() {
		t.Error("this process is not alive")
	}
	other := self
	other.StartTime++
	if other.Alive() {
		t.Error("a different start time is alive")
	}
	// sh starts sleep as its child: both are our descendants.
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var got []int
	for range 1000 {
		got, err = Descendants(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= 2 {
			break
		}
	}
	if !slices.Contains(got, cmd.Process.Pid) || len(got) < 2 {
		t.Errorf("Descendants = %v, want the shell %d and its sleep", got, cmd.Process.Pid)
	}
}
