package ckpt

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// membarrier registrations. The kernel keeps them in the mm
// (mm->membarrier_state) and, since Linux 6.3, tells them:
// MEMBARRIER_CMD_GET_REGISTRATIONS answers the REGISTER_* commands the
// process gave, the global expedited one included (which no command
// reveals otherwise: the global command works for everyone). Older
// kernels are probed with the private commands, which answer EPERM
// without their registration (membarrierCmds); there the global
// registration is not saved.

const (
	membarrierQuery            = 0
	membarrierRegisterGlobal   = 4   // MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
	membarrierGetRegistrations = 512 // MEMBARRIER_CMD_GET_REGISTRATIONS
)

// membarrierRegistrations asks the process (through t) which
// registration commands it gave, in the order they are to be given again.
func membarrierRegistrations(t *task) ([]int, error) {
	supported, err := t.call("membarrier", unix.SYS_MEMBARRIER, membarrierQuery, 0, 0)
	if err != nil {
		return nil, nil // no membarrier in this kernel
	}
	if supported&membarrierGetRegistrations != 0 {
		mask, err := t.call("membarrier", unix.SYS_MEMBARRIER, membarrierGetRegistrations, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("membarrier(GET_REGISTRATIONS): %w", err)
		}
		var regs []int
		for _, reg := range []int{membarrierRegisterGlobal, 16, 64, 256} {
			if mask&uint64(reg) != 0 {
				regs = append(regs, reg)
			}
		}
		if rest := mask &^ uint64(membarrierRegisterGlobal|16|64|256); rest != 0 {
			return nil, fmt.Errorf("membarrier registrations %#x unknown to this engine: %w", rest, ErrUnsupported)
		}
		return regs, nil
	}
	var regs []int
	for _, c := range membarrierCmds {
		if supported&uint64(c.register) == 0 {
			continue
		}
		_, err := t.call("membarrier", unix.SYS_MEMBARRIER, uint64(c.cmd), 0, 0)
		switch {
		case err == nil:
			regs = append(regs, c.register)
		case errnoOf(err) != unix.EPERM:
			return nil, fmt.Errorf("membarrier(%d): %w", c.cmd, err)
		}
	}
	return regs, nil
}

// validMembarrier reports whether reg is a registration the engine saves.
func validMembarrier(reg int) bool {
	switch reg {
	case membarrierRegisterGlobal, 16, 64, 256:
		return true
	}
	return false
}
