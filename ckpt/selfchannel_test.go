package ckpt

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The self-checkpoint channel: a pipe read end (fd 3 of a sleep) whose
// writer, the test, is outside the tree. Named as SelfChannel and empty,
// it is saved, and the restored process finds "restarted" in it, then end
// of file; with bytes in it, or not named, it is refused.
func TestSelfChannel(t *testing.T) {
	needRoot(t)
	for _, c := range []struct {
		name    string
		channel int
		queued  string
		want    syscall.Errno // of the checkpoint; 0: it succeeds
	}{
		{"empty", 3, "", 0},
		{"bytes in it", 3, "x", syscall.ENOTSUP},
		{"not named", 0, "", syscall.EPIPE},
		{"another descriptor", 4, "", syscall.EPIPE},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			r, w := os.NewFile(uintptr(p[0]), "r"), os.NewFile(uintptr(p[1]), "w")
			defer w.Close()
			null, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			defer null.Close()
			cmd := exec.Command("/bin/sleep", "1000")
			cmd.ExtraFiles = []*os.File{r, null} // fds 3 and 4
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			r.Close()
			if c.queued != "" {
				w.WriteString(c.queued)
			}
			img := filepath.Join(dir, "img")
			_, err = Checkpoint(context.Background(), cmd.Process.Pid, CheckpointOptions{File: img, SelfChannel: c.channel, Signal: unix.SIGKILL})
			if got := Errno(err); got != c.want {
				t.Fatalf("checkpoint: got %v (errno %v), want errno %v", err, got, c.want)
			}
			if c.want != 0 {
				var ue *UncheckpointableError
				if !errors.As(err, &ue) || ue.FD != 3 {
					t.Fatalf("checkpoint: got %v, want the refusal of fd 3", err)
				}
				return
			}
			cmd.Wait()
			rp, err := Restart(context.Background(), img, RestartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				unix.Kill(rp.PID, unix.SIGKILL)
				rp.Wait()
			}()
			pidfd, err := unix.PidfdOpen(rp.PID, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(pidfd)
			fd, err := unix.PidfdGetfd(pidfd, 3, 0)
			if err != nil {
				t.Fatal(err)
			}
			f := os.NewFile(uintptr(fd), "restored fd 3")
			defer f.Close()
			buf := make([]byte, 64)
			var got []byte
			for {
				n, err := f.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil || n == 0 {
					break
				}
			}
			if string(got) != SelfRestarted {
				t.Fatalf("restored fd 3 holds %q then end of file, want %q", got, SelfRestarted)
			}
		})
	}
}
