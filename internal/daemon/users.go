package daemon

import (
	"os/user"
	"strconv"
)

// lookupUser resolves a user name to a uid through the system's user
// database.
func lookupUser(name string) (uint32, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	return uint32(n), err
}
