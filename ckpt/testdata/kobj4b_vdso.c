/* kobj4b_vdso: the vDSO after the restart: [vdso] and [vvar] at the same
 * addresses (AT_SYSINFO_EHDR names it), clock_gettime and gettimeofday
 * through it still right (CLOCK_MONOTONIC never went back, CLOCK_REALTIME
 * agrees with the time system call), getcpu answers. */
#include "kobj.h"
#include <sched.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

static unsigned long map_start(const char *name) {
	const char *b = read_file("/proc/self/maps");
	const char *p = strstr(b, name);
	if (!p) return 0;
	while (p > b && p[-1] != '\n') p--;
	return strtoul(p, NULL, 16);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	unsigned long vdso = map_start("[vdso]"), vvar = map_start("[vvar]");
	struct timespec m0;
	clock_gettime(CLOCK_MONOTONIC, &m0);
	if (vdso != getauxval(AT_SYSINFO_EHDR)) DIE("vdso %#lx, AT_SYSINFO_EHDR %#lx", vdso, getauxval(AT_SYSINFO_EHDR));
	kobj_wait();
	CHECK(map_start("[vdso]") == vdso, "[vdso] at %#lx, was %#lx", map_start("[vdso]"), vdso);
	CHECK(map_start("[vvar]") == vvar, "[vvar] at %#lx, was %#lx", map_start("[vvar]"), vvar);
	CHECK(getauxval(AT_SYSINFO_EHDR) == vdso, "AT_SYSINFO_EHDR %#lx", getauxval(AT_SYSINFO_EHDR));
	struct timespec m1, mk, r1, rk;
	clock_gettime(CLOCK_MONOTONIC, &m1);
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &mk);
	CHECK(m1.tv_sec > m0.tv_sec || (m1.tv_sec == m0.tv_sec && m1.tv_nsec >= m0.tv_nsec), "CLOCK_MONOTONIC went back: %ld.%09ld after %ld.%09ld", m1.tv_sec, m1.tv_nsec, m0.tv_sec, m0.tv_nsec);
	CHECK(mk.tv_sec - m1.tv_sec <= 1 && mk.tv_sec >= m1.tv_sec, "vDSO monotonic %ld, system call %ld", m1.tv_sec, mk.tv_sec);
	clock_gettime(CLOCK_REALTIME, &r1);
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &rk);
	CHECK(rk.tv_sec - r1.tv_sec <= 1 && rk.tv_sec >= r1.tv_sec, "vDSO realtime %ld, system call %ld", r1.tv_sec, rk.tv_sec);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	CHECK(tv.tv_sec - rk.tv_sec <= 1 && tv.tv_sec >= rk.tv_sec, "gettimeofday %ld, clock_gettime %ld", tv.tv_sec, rk.tv_sec);
	/* time() reads the seconds of the last tick (the coarse clock): at a
	 * second's turn it may lag clock_gettime by that tick, never more. */
	time_t now = time(NULL);
	CHECK(now >= rk.tv_sec - 1 && now - rk.tv_sec <= 1, "time %ld, clock_gettime %ld", (long)now, rk.tv_sec);
	unsigned cpu = 999;
	CHECK(getcpu(&cpu, NULL) == 0 && cpu < 4096, "getcpu %u", cpu);
	return kobj_done();
}
