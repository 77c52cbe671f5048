package ckpt

// MachineFingerprint is what an image written on this machine records of
// it and what a restart checks: an image needs the same machine
// architecture, its format (FormatVersion), and every instruction-set
// flag it records (a restored process may use any instruction it found
// when it started); a kernel change is only reported.
type MachineFingerprint struct {
	Kernel   string
	Machine  string
	CPUFlags []string
}

// LocalFingerprint returns this machine's fingerprint (as images record it).
func LocalFingerprint() MachineFingerprint {
	fp := localFingerprint(nil)
	return MachineFingerprint{Kernel: fp.Kernel, Machine: fp.Machine, CPUFlags: fp.CPUFlags}
}
