package ckpt

// AIO contexts (io_setup). A context is a ring the kernel maps into the
// process (maps: "/[aio] (deleted)", shared, never copied by fork), and
// its id, the aio_context_t the program passes to io_submit, is the
// ring's address. The ring starts with a header (struct aio_ring: id, the
// context's slot in the mm's table; nr, events the ring holds; head,
// advanced by whoever reaps; tail, written by the kernel from its own
// copy, ctx->tail) followed by nr struct io_event.
//
// Checkpoint: the ring is saved whole, as memory, while the process is
// frozen. A request still in flight cannot be seen: no interface counts
// them. What can be seen is a completion arriving while the process is
// frozen (ptrace stops the program, not its I/O): the tail is read
// aioSettle apart until it stays still, and the completions that arrived
// meanwhile are saved in the ring; a ring whose tail still moves after
// aioWaitLimit is refused, naming the process and the context. Completions already in the ring, not reaped
// yet, are saved with it.
//
// Restart (as CRIU does it): io_setup with a count that gives a ring of
// the same size, in the order of the saved ids (the kernel gives the
// first free slot; gaps are filled with contexts destroyed afterwards),
// mremap of the ring to its old address (the kernel follows the ring:
// aio_ring_mremap changes the context's id to the new address). The
// kernel's own tail must then be the saved one: requests that complete at
// once (reads of 0 bytes from /dev/zero) are submitted and reaped until
// head and tail are at the saved head, then as many as there were
// completions not reaped are submitted and left in the ring (the kernel
// counts them as taken slots). Last the saved ring (header and events)
// is filled in over them, checked like any segment; the header it brings
// must agree with the kernel's head and tail, else the image is refused.

import (
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

const (
	regionAIO       = "aio" // an AIO context's ring: AIO, content saved
	aioRingName     = "/[aio] (deleted)"
	aioRingMagic    = 0xa10a10a1
	aioHeaderLen    = 32 // sizeof(struct aio_ring)
	aioEventLen     = 32 // sizeof(struct io_event)
	aioSettle       = 20 * time.Millisecond
	aioWaitLimit    = 2 * time.Second // how long completions are waited for
	aioMaxID        = 1 << 16
	iocbLen         = 64
	aioBatch        = 128
	iocbCmdPread    = 0
	mremapMaymove   = 1
	mremapFixed     = 2
	aioMaxRingBytes = 0x10000000 // the kernel's bound on a ring (ioctx_alloc)
)

// aioRing is region.AIO: the context's slot and the ring's size in events.
type aioRing struct {
	ID uint32 `json:"id"`
	NR uint32 `json:"nr"`
}

// aioHeader is the start of struct aio_ring.
type aioHeader struct {
	ID, NR, Head, Tail, Magic, Compat, Incompat, HeaderLen uint32
}

func parseAIOHeader(b []byte) aioHeader {
	le := binary.LittleEndian
	return aioHeader{le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:]),
		le.Uint32(b[16:]), le.Uint32(b[20:]), le.Uint32(b[24:]), le.Uint32(b[28:])}
}

// describeAIO records the context of ring r, or refuses it.
func (d *dumper) describeAIO(r *region) error {
	b := make([]byte, aioHeaderLen)
	if err := d.readExtent(b, r.Start); err != nil {
		return fmt.Errorf("%s(%d): AIO context %#x: %w", d.comm, d.pid, r.Start, err)
	}
	h := parseAIOHeader(b)
	refuse := func(why string) error {
		return d.uncheckpointable(-1, fmt.Sprintf(": AIO context (io_setup) %#x %s", r.Start, why))
	}
	if h.Magic != aioRingMagic || h.Incompat != 0 || h.HeaderLen != aioHeaderLen || h.ID >= aioMaxID ||
		uint64(h.NR) != (r.End-r.Start-aioHeaderLen)/aioEventLen || h.Head >= h.NR || h.Tail >= h.NR {
		return refuse(fmt.Sprintf("has a ring this engine does not know (magic %#x, nr %d, header %d bytes)", h.Magic, h.NR, h.HeaderLen))
	}
	// Completions arriving while the process is frozen are waited for,
	// a bounded time, until the tail stays still for aioSettle: they are
	// then in the ring, saved with it.
	for start := time.Now(); ; {
		time.Sleep(aioSettle)
		if err := d.readExtent(b, r.Start); err != nil {
			return fmt.Errorf("%s(%d): AIO context %#x: %w", d.comm, d.pid, r.Start, err)
		}
		h2 := parseAIOHeader(b)
		if h2.Tail == h.Tail {
			break
		}
		if time.Since(start) > aioWaitLimit {
			return refuse(fmt.Sprintf("has requests in flight that went on completing for %v while the process was frozen: they could not be restored", aioWaitLimit))
		}
		h.Tail = h2.Tail
	}
	r.AIO = &aioRing{ID: h.ID, NR: h.NR}
	return nil
}

// checkAIO refuses an AIO region that does not describe a ring.
func checkAIO(p *rproc) error {
	ids := map[uint32]bool{}
	for _, r := range p.meta.Regions {
		if (r.Kind == regionAIO) != (r.AIO != nil) {
			return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: region %#x: AIO ring without context", ErrCorrupt, r.Start)}
		}
		if r.AIO == nil {
			continue
		}
		a := r.AIO
		if a.ID >= aioMaxID || ids[a.ID] || r.End-r.Start > aioMaxRingBytes || uint64(a.NR) != (r.End-r.Start-aioHeaderLen)/aioEventLen ||
			a.NR < 2 || r.Start%pageSize != 0 || r.End%pageSize != 0 || r.File != nil || len(r.Extents) == 0 {
			return &ImageError{Path: p.img.Path, Err: fmt.Errorf("%w: region %#x: AIO context %d of %d events", ErrCorrupt, r.Start, a.ID, a.NR)}
		}
		ids[a.ID] = true
	}
	return nil
}

// restoreAIO makes the AIO contexts of rings again, at their addresses,
// and fills their rings (see above). check, once the fill is verified,
// compares each ring's header with the kernel's state.
func (b *builder) restoreAIO(fill *memFill, rings []region) (check func() error, err error) {
	if len(rings) == 0 {
		return func() error { return nil }, nil
	}
	sort.Slice(rings, func(i, j int) bool { return rings[i].AIO.ID < rings[j].AIO.ID })
	byID := map[uint32]region{}
	for _, rg := range rings {
		byID[rg.AIO.ID] = rg
	}
	zero, err := b.putString(scratchData, "/dev/zero")
	if err != nil {
		return nil, err
	}
	zfd, err := b.call("open", unix.SYS_OPENAT, atFDCWD, zero, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("AIO contexts: open /dev/zero: %w", err)
	}
	defer b.call("close", unix.SYS_CLOSE, zfd)
	var fillers []uint64
	defer func() {
		for _, c := range fillers {
			b.call("io_destroy", unix.SYS_IO_DESTROY, c)
		}
	}()
	want := map[uint64][2]uint32{} // ring address: head, tail the kernel has
	last := rings[len(rings)-1].AIO.ID
	for id := uint32(0); id <= last; id++ {
		rg, ok := byID[id]
		nr := uint32(aioBatch)
		if ok {
			nr = rg.AIO.NR
		}
		ctx, err := b.ioSetup(nr)
		if err != nil {
			return nil, fmt.Errorf("AIO context %d: %w", id, err)
		}
		h := parseAIOHeader(b.read(ctx, aioHeaderLen))
		if h.ID != id {
			b.call("io_destroy", unix.SYS_IO_DESTROY, ctx)
			return nil, fmt.Errorf("AIO context %d: io_setup gave context %d", id, h.ID)
		}
		if !ok {
			fillers = append(fillers, ctx)
			continue
		}
		if h.NR != rg.AIO.NR {
			b.call("io_destroy", unix.SYS_IO_DESTROY, ctx)
			return nil, fmt.Errorf("%w: AIO context %#x: a ring of %d events cannot be made on this machine (io_setup gives %d)", ErrIncompatible, rg.Start, rg.AIO.NR, h.NR)
		}
		length := rg.End - rg.Start
		if _, err := b.call("mremap", unix.SYS_MREMAP, ctx, length, length, mremapMaymove|mremapFixed, rg.Start); err != nil {
			b.call("io_destroy", unix.SYS_IO_DESTROY, ctx)
			return nil, fmt.Errorf("AIO context %#x: mremap: %w", rg.Start, err)
		}
		head, tail, err := b.aioPosition(rg, zfd)
		if err != nil {
			return nil, fmt.Errorf("AIO context %#x: %w", rg.Start, err)
		}
		want[rg.Start] = [2]uint32{head, tail}
		if err := fill.fillRegion(rg); err != nil {
			return nil, err
		}
	}
	return func() error {
		for _, rg := range rings {
			h := parseAIOHeader(b.read(rg.Start, aioHeaderLen))
			w := want[rg.Start]
			if h.ID != rg.AIO.ID || h.NR != rg.AIO.NR || h.Head != w[0] || h.Tail != w[1] || h.Magic != aioRingMagic {
				return &ImageError{Path: b.p.img.Path, Err: fmt.Errorf("%w: AIO context %#x: saved ring (id %d, head %d, tail %d) disagrees with its context (id %d, head %d, tail %d)",
					ErrCorrupt, rg.Start, h.ID, h.Head, h.Tail, rg.AIO.ID, w[0], w[1])}
			}
		}
		return nil
	}, nil
}

// ioSetup makes a context whose ring holds nr events, as the saved one
// did: io_setup doubles what it is asked for (at least 4 per possible
// CPU) and rounds the ring up to whole pages, so the largest count that
// gives the same pages is asked for.
func (b *builder) ioSetup(nr uint32) (uint64, error) {
	ask := uint64(nr-2) / 2
	if ask == 0 {
		ask = 1
	}
	addr, err := b.put(scratchData, make([]byte, 8))
	if err != nil {
		return 0, err
	}
	if _, err := b.call("io_setup", unix.SYS_IO_SETUP, ask, addr); err != nil {
		return 0, fmt.Errorf("io_setup(%d): %w", ask, err)
	}
	return binary.LittleEndian.Uint64(b.read(addr, 8)), nil
}

// aioPosition brings the kernel's head and tail of the new context at rg
// to those of the saved ring (its first page, in the image), with
// requests that complete at once; it returns them.
func (b *builder) aioPosition(rg region, zfd uint64) (head, tail uint32, err error) {
	hdr := make([]byte, aioHeaderLen)
	e := rg.Extents[0]
	if e.Addr != rg.Start || e.Len < aioHeaderLen {
		return 0, 0, fmt.Errorf("%w: ring header not saved", ErrCorrupt)
	}
	img, err := openImage(b.p.img.Path)
	if err != nil {
		return 0, 0, err
	}
	err = b.p.img.readSegment(img, e, 0, hdr)
	img.Close()
	if err != nil {
		return 0, 0, err
	}
	// Read from the file here only to know how far to go; what is
	// restored is the verified fill, checked against it afterwards.
	h := parseAIOHeader(hdr)
	nr := rg.AIO.NR
	if h.Head >= nr || h.Tail >= nr {
		return 0, 0, fmt.Errorf("%w: ring head %d tail %d of %d events", ErrCorrupt, h.Head, h.Tail, nr)
	}
	if err := b.aioComplete(rg.Start, zfd, int(h.Head), true); err != nil {
		return 0, 0, err
	}
	unreaped := int((h.Tail + nr - h.Head) % nr)
	if err := b.aioComplete(rg.Start, zfd, unreaped, false); err != nil {
		return 0, 0, err
	}
	return h.Head, h.Tail, nil
}

// aioComplete submits n requests that complete at once to context ctx,
// reaping them if reap.
func (b *builder) aioComplete(ctx, zfd uint64, n int, reap bool) error {
	const (
		iocbOff   = scratchData + 64
		ptrOff    = iocbOff + aioBatch*iocbLen
		eventsOff = ptrOff + aioBatch*8
	)
	iocbs := make([]byte, aioBatch*iocbLen)
	ptrs := make([]byte, aioBatch*8)
	le := binary.LittleEndian
	for i := 0; i < aioBatch; i++ {
		cb := iocbs[i*iocbLen:]
		le.PutUint16(cb[16:], iocbCmdPread)
		le.PutUint32(cb[20:], uint32(zfd))
		le.PutUint64(cb[24:], b.scratch+eventsOff) // 0 bytes: any address
		le.PutUint64(ptrs[i*8:], b.scratch+iocbOff+uint64(i*iocbLen))
	}
	if _, err := b.put(iocbOff, iocbs); err != nil {
		return err
	}
	if _, err := b.put(ptrOff, ptrs); err != nil {
		return err
	}
	for n > 0 {
		k := min(n, aioBatch)
		got, err := b.call("io_submit", unix.SYS_IO_SUBMIT, ctx, uint64(k), b.scratch+ptrOff)
		if err != nil {
			return fmt.Errorf("io_submit: %w", err)
		}
		if got == 0 {
			return fmt.Errorf("io_submit: no request taken")
		}
		if reap {
			if _, err := b.call("io_getevents", unix.SYS_IO_GETEVENTS, ctx, got, got, b.scratch+eventsOff, 0); err != nil {
				return fmt.Errorf("io_getevents: %w", err)
			}
		}
		n -= int(got)
	}
	return nil
}
