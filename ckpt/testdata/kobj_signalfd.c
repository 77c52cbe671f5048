/* A signalfd on SIGUSR2 and SIGRTMIN+3, both blocked, SIGUSR2 pending
 * (sent by ourselves) and SIGRTMIN+3 queued twice with values. */
#include "kobj.h"
#include <sys/signalfd.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGRTMIN + 3);
	sigprocmask(SIG_BLOCK, &m, NULL);
	int fd = signalfd(-1, &m, SFD_NONBLOCK);
	if (fd < 0) DIE("signalfd: %s", strerror(errno));
	kill(getpid(), SIGUSR2);
	sigqueue(getpid(), SIGRTMIN + 3, (union sigval){.sival_int = 11});
	sigqueue(getpid(), SIGRTMIN + 3, (union sigval){.sival_int = 22});
	char mask[128];
	snprintf(mask, sizeof mask, "%s", fdinfo_line(fd, "sigmask"));
	kobj_wait();
	CHECK(strcmp(fdinfo_line(fd, "sigmask"), mask) == 0, "fdinfo %s, was %s", fdinfo_line(fd, "sigmask"), mask);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "lost O_NONBLOCK");
	struct signalfd_siginfo si;
	int vals[2], nv = 0, usr2 = 0;
	while (read(fd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGUSR2) {
			usr2++;
			CHECK(si.ssi_pid == (unsigned)getpid() && si.ssi_code == SI_USER, "SIGUSR2 from %u code %d", si.ssi_pid, si.ssi_code);
		} else if ((int)si.ssi_signo == SIGRTMIN + 3 && nv < 2) {
			CHECK(si.ssi_code == SI_QUEUE, "rt code %d", si.ssi_code);
			vals[nv++] = si.ssi_int;
		} else
			kobj_fail("unexpected signal %u", si.ssi_signo);
	}
	CHECK(usr2 == 1, "SIGUSR2 read %d times", usr2);
	CHECK(nv == 2 && vals[0] == 11 && vals[1] == 22, "rt values %d: %d %d", nv, vals[0], vals[1]);
	return kobj_done();
}
