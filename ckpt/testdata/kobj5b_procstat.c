/* kobj5b_procstat: the fields of /proc/self/stat that describe the
 * process rather than its run: ppid, pgrp, session, tty, nice, threads,
 * exit signal, rt priority, policy, the code, stack, data, brk, argument
 * and environment bounds, and vsize (every mapping is back, none added).
 * They are the same after the restart. */
#include "kobj.h"
#include <sys/resource.h>

/* Fields (1-based, as proc(5)): 4 ppid 5 pgrp 6 session 7 tty_nr 19 nice
 * 20 num_threads 23 vsize 26 startcode 27 endcode 28 startstack 38
 * exit_signal 40 rt_priority 41 policy 45..51 start_data end_data
 * start_brk arg_start arg_end env_start env_end. */
static const int keep[] = {4, 5, 6, 7, 19, 20, 23, 26, 27, 28, 38, 40, 41, 45, 46, 47, 48, 49, 50, 51};
#define NK (int)(sizeof keep / sizeof keep[0])

static void fields(unsigned long long *v) {
	const char *s = read_file("/proc/self/stat");
	const char *p = strrchr(s, ')') + 2; /* field 3 */
	unsigned long long all[64] = {0};
	int n = 3;
	p = strchr(p, ' ') + 1;
	for (n = 4; n < 64 && *p; n++) {
		all[n] = strtoull(p, (char **)&p, 10);
		if (*p == ' ') p++;
	}
	for (int i = 0; i < NK; i++) v[i] = all[keep[i]];
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	setpriority(PRIO_PROCESS, 0, 6);
	sbrk(3 * 4096 + 17);
	unsigned long long a[NK], b[NK];
	fields(a);
	kobj_wait();
	fields(b);
	for (int i = 0; i < NK; i++) CHECK(a[i] == b[i], "stat field %d: %llu, was %llu", keep[i], b[i], a[i]);
	return kobj_done();
}
