package ckpt

import "golang.org/x/sys/unix"

// Absolute timerfds. fdinfo shows a timerfd's time left (it_value) and the
// flags of its last timerfd_settime ("settime flags", in octal). A timer
// set with TFD_TIMER_ABSTIME expires at a time of its clock, not after a
// delay: its expiry is the checkpoint's clock reading plus the time left,
// and it is armed again at that very time, with its flags (with
// TFD_TIMER_CANCEL_ON_SET a later clock_settime cancels it, as it would
// have the original). A timer whose time passed while the job was down
// fires at once, as it would have.

const (
	tfdTimerAbstime     = 1 // TFD_TIMER_ABSTIME
	tfdTimerCancelOnSet = 2 // TFD_TIMER_CANCEL_ON_SET
	timerfdSettable     = tfdTimerAbstime | tfdTimerCancelOnSet
)

// absolute reports whether a is an armed timerfd set with an absolute time.
func (a *anonFile) absolute() bool {
	return a.Type == "timerfd" && a.TimerFlags&tfdTimerAbstime != 0 && (a.Expires != [2]int64{})
}

// timerExpiry computes Expires, right after fdinfo was read.
func (a *anonFile) timerExpiry() {
	if a.Type != "timerfd" || a.TimerFlags&tfdTimerAbstime == 0 || a.Value == ([2]int64{}) {
		return
	}
	var now unix.Timespec
	if unix.ClockGettime(int32(timeBase(a.Clock)), &now) != nil {
		return
	}
	sec, nsec := now.Sec+a.Value[0], now.Nsec+a.Value[1]
	if nsec >= 1e9 {
		sec, nsec = sec+1, nsec-1e9
	}
	a.Expires = [2]int64{sec, nsec}
}

// timeBase is the clock whose time an alarm clock keeps: clock_gettime
// refuses CLOCK_REALTIME_ALARM and CLOCK_BOOTTIME_ALARM (EINVAL) on a
// machine whose RTC cannot wake it (a VM), though timerfds of those clocks
// work and count their time on the base clock.
func timeBase(clock int) int {
	switch clock {
	case unix.CLOCK_REALTIME_ALARM:
		return unix.CLOCK_REALTIME
	case unix.CLOCK_BOOTTIME_ALARM:
		return unix.CLOCK_BOOTTIME
	}
	return clock
}
