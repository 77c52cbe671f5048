package ckpt

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A tmpfs file found at restart that no process maps is what the
// checkpointed run left behind when it was killed (Open MPI's vader
// segments in /dev/shm are never removed by a SIGKILL): its content is
// that of the moment the run died, not of the checkpoint, and the
// restored processes' memory (queue indices, fragment pointers) matches
// only the checkpoint's. Such a file gets the checkpointed content back.
// A file that a live process still maps is that process's: it is left as
// it is (the restored tree then shares it).

// mappedByAnyone reports whether a process maps the file st describes
// (scanning every /proc/PID/maps for its device and inode).
func mappedByAnyone(st *unix.Stat_t) bool {
	want := fmt.Sprintf("%02x:%02x", unix.Major(st.Dev), unix.Minor(st.Dev))
	ino := strconv.FormatUint(st.Ino, 10)
	d, err := os.Open("/proc")
	if err != nil {
		return true
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		f, err := os.Open("/proc/" + n + "/maps")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 5 && fields[4] == ino && fields[3] == want {
				f.Close()
				return true
			}
		}
		f.Close()
	}
	return false
}
