/* CPU affinity per thread, I/O priority, nice. */
#include "kobj.h"
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static pid_t tid2;
static void *second(void *a) { (void)a; tid2 = syscall(SYS_gettid); for (;;) pause(); }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 2) DIE("needs 2 CPUs");
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!tid2) usleep(1000);
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(0, &s);
	sched_setaffinity(0, sizeof s, &s);
	CPU_ZERO(&s);
	CPU_SET(1, &s);
	sched_setaffinity(tid2, sizeof s, &s);
	/* IOPRIO_CLASS_BE level 6 for the process, IDLE for the thread. */
	syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 6);
	syscall(SYS_ioprio_set, 1, tid2, (3 << 13) | 0);
	setpriority(PRIO_PROCESS, 0, 7);
	kobj_wait();
	sched_getaffinity(0, sizeof s, &s);
	CHECK(CPU_COUNT(&s) == 1 && CPU_ISSET(0, &s), "main affinity: %d cpus", CPU_COUNT(&s));
	sched_getaffinity(tid2, sizeof s, &s);
	CHECK(CPU_COUNT(&s) == 1 && CPU_ISSET(1, &s), "thread affinity: %d cpus", CPU_COUNT(&s));
	long p1 = syscall(SYS_ioprio_get, 1, 0), p2 = syscall(SYS_ioprio_get, 1, tid2);
	CHECK(p1 == ((2 << 13) | 6), "main ioprio %#lx", p1);
	CHECK(p2 == (3 << 13), "thread ioprio %#lx", p2);
	errno = 0;
	CHECK(getpriority(PRIO_PROCESS, 0) == 7, "nice %d", getpriority(PRIO_PROCESS, 0));
	return kobj_done();
}
