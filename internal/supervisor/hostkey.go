package supervisor

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// The host key authenticates the checkpoint images this host's batch
// system writes (ckpt.CheckpointOptions.Key): a restart trusts the
// credentials recorded in an image only if its HMAC verifies with the key
// (ckpt.RestartOptions.Key); any other image is restored as its owner's
// file, never with more than the owner has. Only the daemon's user (root)
// may read the key: whoever has it can forge images.
const (
	KeyFile = "host.key" // in the state directory
	keySize = 32
)

// HostKey returns the path of the state directory's host key, created at
// the first start (random, mode 0600, durable before it is used).
func HostKey(stateDir string) (string, error) {
	path := filepath.Join(stateDir, KeyFile)
	if _, err := ReadKey(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return path, err
	}
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	// A temporary name of this process's own (mode 0600): in cluster mode
	// the nodes starting together create the shared key at once, and one
	// must not remove the file another is about to link.
	f, err := os.CreateTemp(stateDir, KeyFile+".new.*")
	if err != nil {
		return "", fmt.Errorf("create the host key: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(key)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link, not rename: a key another daemon created meanwhile wins.
		if err = os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
			err = nil
		}
	}
	os.Remove(tmp)
	if err == nil {
		err = syncDir(stateDir)
	}
	if err != nil {
		return "", fmt.Errorf("create the host key: %w", err)
	}
	_, err = ReadKey(path)
	return path, err
}

// ReadKey reads a host key, which must be a regular file of ours that
// nobody else may read or write.
func ReadKey(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 || st == nil || int(st.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("host key %s: must be a regular file of uid %d with mode 0600 (it is %v)", path, os.Geteuid(), fi.Mode())
	}
	key := make([]byte, keySize+1)
	n, err := f.Read(key)
	if err != nil || n != keySize {
		return nil, fmt.Errorf("host key %s: not a key of %d bytes", path, keySize)
	}
	return key[:n], nil
}
