package ckpt

import (
	"encoding/binary"
	"fmt"
)

// SEM_UNDO adjustments of a process of several threads. Its threads share
// one undo list, which the kernel applies only when the last of them lets
// go of it, and which could not be shared again once made anew: the
// unshare measure (semundo.go) cannot be used. The adjustments are read
// instead by asking the kernel whether an operation would leave one out of
// range. semop checks every operation of a call before doing any
// (perform_atomic_semop): an operation x with SEM_UNDO on a semaphore is
// refused with ERANGE when adj - x leaves -32768..32767, and a second
// operation that can never be done (-32768) makes the call fail with
// EAGAIN (IPC_NOWAIT) otherwise; either way nothing changes. With the
// semaphore's value raised to 32767, x may be anything in -32767..0, so
// "adj > 32767 + x" can be asked for every positive adj; with the value at
// 0, x in 0..32767 asks "adj < x - 32768" for every adj below -1; -1 and 0
// are told apart by a real operation of -1 with SEM_UNDO (adj becomes 0 or
// 1), asked about and undone. The values are moved by operations without
// SEM_UNDO and put back; this is done only where the measure of semundo.go
// is (the tree frozen in an IPC namespace of its own, nobody waiting on a
// semaphore), so no one sees them move. Each question is a semop made by
// the process itself (injected): the kernel answers about the caller's
// list.

const semVMX = 32767

// probeUndo measures the adjustments of d (any of its threads: they share
// the list) to set s, whose values are now s.Values.
func (d *dumper) probeUndo(s sysvSem) (semUndo, error) {
	u := semUndo{Semid: s.ID, Adj: make([]int16, len(s.Values))}
	err := d.withInjection(func(t *task, scratch uint64) error {
		semop := func(ops ...[3]int) error {
			buf := make([]byte, 6*len(ops))
			for i, o := range ops {
				binary.LittleEndian.PutUint16(buf[6*i:], uint16(o[0]))
				binary.LittleEndian.PutUint16(buf[6*i+2:], uint16(int16(o[1])))
				binary.LittleEndian.PutUint16(buf[6*i+4:], uint16(o[2]))
			}
			if _, err := d.mem.WriteAt(buf, int64(scratch)); err != nil {
				return err
			}
			_, err := t.call("semop", 65 /* SYS_SEMOP */, uint64(s.ID), scratch, uint64(len(ops)))
			return err
		}
		// tooFar: would x with SEM_UNDO take semaphore j's adjustment out
		// of range? (Nothing is done either way.)
		tooFar := func(j, x int) (bool, error) {
			err := semop([3]int{j, x, semUndoFlag | ipcNowait}, [3]int{j, -32768, ipcNowait})
			switch errnoOf(err) {
			case 34: // ERANGE
				return true, nil
			case 11: // EAGAIN
				return false, nil
			}
			if err == nil {
				return false, fmt.Errorf("semaphore set %d: semop probe was done", s.ID)
			}
			return false, err
		}
		move := func(j, delta int) error {
			if delta == 0 {
				return nil
			}
			return semop([3]int{j, delta, ipcNowait})
		}
		for j, v := range s.Values {
			val := int(v)
			// At 32767: adj > t (t = 32767 + x, 0..32767)?
			if err := move(j, semVMX-val); err != nil {
				return err
			}
			val = semVMX
			pos, err := tooFar(j, -semVMX)
			if err != nil {
				return err
			}
			var adj int
			if pos {
				lo, hi := 0, semVMX // adj > lo, adj <= hi
				for hi-lo > 1 {
					mid := (lo + hi) / 2
					if far, err := tooFar(j, mid-semVMX); err != nil {
						return err
					} else if far {
						lo = mid
					} else {
						hi = mid
					}
				}
				adj = hi
			} else {
				// adj <= 0: 0 or below? One real -1 with SEM_UNDO makes
				// it adj+1, positive only if adj was 0.
				if err := semop([3]int{j, -1, semUndoFlag | ipcNowait}); err != nil {
					return err
				}
				if err := move(j, 1); err != nil { // back at 32767
					return err
				}
				zero, err := tooFar(j, -semVMX) // adj+1 > 0?
				if err != nil {
					return err
				}
				if err := move(j, -1); err != nil {
					return err
				}
				if err := semop([3]int{j, 1, semUndoFlag | ipcNowait}); err != nil {
					return err
				}
				if !zero {
					// At 0: adj < u (u = x - 32768, -32768..-1)?
					if err := move(j, -val); err != nil {
						return err
					}
					val = 0
					lo, hi := -32768, -1 // adj >= lo, adj < hi+1
					if far, err := tooFar(j, semVMX); err != nil {
						return err
					} else if !far {
						lo = -1 // not below -1: -1
					}
					for lo < hi {
						mid := (lo + hi + 1) / 2 // is adj >= mid?
						far, err := tooFar(j, mid+32768)
						if err != nil {
							return err
						}
						if far { // adj < mid
							hi = mid - 1
						} else {
							lo = mid
						}
					}
					adj = lo
				}
			}
			if err := move(j, int(v)-val); err != nil {
				return err
			}
			u.Adj[j] = int16(adj)
		}
		return nil
	})
	if err != nil {
		return u, fmt.Errorf("%s(%d): semaphore set %d: measure SEM_UNDO adjustments: %w", d.comm, d.pid, s.ID, err)
	}
	return u, nil
}
