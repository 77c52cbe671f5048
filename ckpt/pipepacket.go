package ckpt

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Pipes in packet mode. A write to a pipe through a descriptor with
// O_DIRECT (pipe2(O_DIRECT), F_SETFL) makes a packet: a read returns at
// most one (pipe_read stops at a PIPE_BUF_FLAG_PACKET buffer), where it
// would run on over ordinary buffers. tee(2) copies buffers with their
// flags, so reading the copy shows the packets: a read that returns less
// than is left ended at one. The restore writes each again through the
// pipe's write end with O_DIRECT set for the time of it.

// readPackets reads the n bytes copied into pipe fd (non-blocking, no
// writer but us), and the length of each read when a packet ended one
// (nil: none did).
func readPackets(fd, n int) ([]byte, []int, error) {
	data := make([]byte, n)
	var reads []int
	short := false
	for off := 0; off < n; {
		k, err := unix.Read(fd, data[off:])
		if err != nil {
			return nil, nil, err
		}
		if k == 0 {
			return nil, nil, fmt.Errorf("pipe copy: %d bytes of %d", off, n)
		}
		off += k
		short = short || off < n
		reads = append(reads, k)
	}
	if !short {
		reads = nil
	}
	return data, reads, nil
}

// packetMode records the bytes of pd as one packet when a write end of
// the pipe among refs has O_DIRECT and no boundary was seen: one packet
// left (a later one must not be read with it).
func (pd *pipeData) packetMode(refs []fdRef) {
	if len(pd.Packets) > 0 || len(pd.Data) == 0 {
		return
	}
	for _, x := range refs {
		if f := x.file(); f.Flags&unix.O_ACCMODE != unix.O_RDONLY && f.Flags&unix.O_DIRECT != 0 {
			pd.Packets = []int{len(pd.Data)}
			return
		}
	}
}

// checkPackets validates the packets of pd read from an image: each
// longer than 0 and at most a page (the kernel splits longer O_DIRECT
// writes), together all of Data.
func (pd pipeData) checkPackets() error {
	if len(pd.Packets) == 0 {
		return nil
	}
	if len(pd.Packets) > len(pd.Data) {
		return fmt.Errorf("%w: pipe %d: %d packets in %d bytes", ErrCorrupt, pd.Ino, len(pd.Packets), len(pd.Data))
	}
	sum := 0
	for _, n := range pd.Packets {
		if n <= 0 || n > unix.Getpagesize() {
			return fmt.Errorf("%w: pipe %d: packet of %d bytes", ErrCorrupt, pd.Ino, n)
		}
		sum += n
	}
	if sum != len(pd.Data) {
		return fmt.Errorf("%w: pipe %d: packets of %d bytes in all, data %d", ErrCorrupt, pd.Ino, sum, len(pd.Data))
	}
	return nil
}

// writePackets writes the bytes of pd into the pipe whose write end is
// fd: each packet by a write of its own with O_DIRECT, the description's
// flags as they were after.
func writePackets(fd int, pd pipeData) error {
	if len(pd.Packets) == 0 {
		for off := 0; off < len(pd.Data); {
			n, err := unix.Write(fd, pd.Data[off:])
			if err != nil {
				return err
			}
			off += n
		}
		return nil
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_DIRECT); err != nil {
		return fmt.Errorf("packet mode: %w", err)
	}
	defer unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
	off := 0
	for _, n := range pd.Packets {
		k, err := unix.Write(fd, pd.Data[off:off+n])
		if err != nil {
			return err
		}
		if k != n {
			return fmt.Errorf("packet of %d bytes: %d written", n, k)
		}
		off += n
	}
	return nil
}
