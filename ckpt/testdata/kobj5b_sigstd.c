/* kobj5b_sigstd: standard signals pending with the siginfo of their
 * sender: SIGUSR2 sigqueue'd with value 77 (SI_QUEUE), SIGHUP by tgkill
 * (SI_TKILL, or what this kernel gives tgkill: learnt first), SIGWINCH by kill (SI_USER), SIGTERM by rt_sigqueueinfo with
 * a made-up si_code -3 and pid 31337, and SIGURG sent twice (one kept).
 * After the restart each comes with its own siginfo, once. */
#include "kobj.h"
#include <sys/syscall.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	int sigs[] = {SIGHUP, SIGUSR2, SIGTERM, SIGURG, SIGWINCH};
	for (int i = 0; i < 5; i++) sigaddset(&m, sigs[i]);
	sigprocmask(SIG_BLOCK, &m, NULL);
	struct timespec z = {0, 0};
	siginfo_t si;
	syscall(SYS_tgkill, getpid(), getpid(), SIGHUP);
	if (sigtimedwait(&m, &si, &z) != SIGHUP) DIE("tgkill: no SIGHUP");
	int tkcode = si.si_code;
	sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 77});
	syscall(SYS_tgkill, getpid(), getpid(), SIGHUP);
	kill(getpid(), SIGWINCH);
	memset(&si, 0, sizeof si);
	si.si_signo = SIGTERM;
	si.si_code = -3;
	si.si_pid = 31337;
	si.si_uid = 5;
	si.si_value.sival_int = 123;
	if (syscall(SYS_rt_sigqueueinfo, getpid(), SIGTERM, &si)) DIE("rt_sigqueueinfo: %s", strerror(errno));
	kill(getpid(), SIGURG);
	sigqueue(getpid(), SIGURG, (union sigval){.sival_int = 8});
	kobj_wait();
	/* Lowest number first: HUP 1, USR2 12, TERM 15, URG 23, WINCH 28. */
	int s = sigtimedwait(&m, &si, &z);
	CHECK(s == SIGHUP && si.si_code == tkcode && si.si_pid == getpid(), "SIGHUP: %d code %d (want %d) pid %d", s, si.si_code, tkcode, si.si_pid);
	s = sigtimedwait(&m, &si, &z);
	CHECK(s == SIGUSR2 && si.si_code == SI_QUEUE && si.si_value.sival_int == 77 && si.si_pid == getpid(), "SIGUSR2: %d code %d value %d", s, si.si_code, si.si_value.sival_int);
	s = sigtimedwait(&m, &si, &z);
	CHECK(s == SIGTERM && si.si_code == -3 && si.si_pid == 31337 && si.si_uid == 5 && si.si_value.sival_int == 123,
	      "SIGTERM: %d code %d pid %d uid %d value %d", s, si.si_code, si.si_pid, si.si_uid, si.si_value.sival_int);
	s = sigtimedwait(&m, &si, &z);
	CHECK(s == SIGURG && si.si_code == SI_USER, "SIGURG: %d code %d (the first sent is kept)", s, si.si_code);
	s = sigtimedwait(&m, &si, &z);
	CHECK(s == SIGWINCH && si.si_code == SI_USER && si.si_pid == getpid(), "SIGWINCH: %d code %d", s, si.si_code);
	s = sigtimedwait(&m, &si, &z);
	CHECK(s < 0, "more pending: %d", s);
	return kobj_done();
}
