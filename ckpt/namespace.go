package ckpt

import (
	"os/exec"
	"syscall"
)

// nsInitScript runs as pid 1 of the new namespaces: it keeps mounts from
// leaking out, gives the namespace its own /proc, and becomes the program.
const nsInitScript = `mount --make-rprivate / && mount -t proc -o nosuid,nodev,noexec proc /proc && exec "$@"`

// Namespaced returns a copy of cmd that starts its program as the init
// (pid 1) of a new PID namespace, in a mount namespace of its own where
// /proc shows that PID namespace, and in an IPC namespace of its own: its
// SysV objects are the job's, and come back with their ids (sysvipc.go). A checkpoint of such a tree (Tree: true,
// from the init) restarts into a fresh PID namespace with the same pids
// inside it, so its restart never collides with another process's pid,
// and the same image can run twice at once. Starting it needs root.
//
// Note that the init of a PID namespace ignores signals it has no handler
// for, SIGKILL from outside excepted.
func Namespaced(cmd *exec.Cmd) *exec.Cmd {
	args := append([]string{"-c", nsInitScript, "lazarus-init", cmd.Path}, cmd.Args[1:]...)
	c := exec.Command("/bin/sh", args...)
	c.Dir, c.Env = cmd.Dir, cmd.Env
	c.Stdin, c.Stdout, c.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	c.ExtraFiles = cmd.ExtraFiles
	attr := syscall.SysProcAttr{}
	if cmd.SysProcAttr != nil {
		attr = *cmd.SysProcAttr
	}
	attr.Cloneflags |= syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC
	c.SysProcAttr = &attr
	return c
}
