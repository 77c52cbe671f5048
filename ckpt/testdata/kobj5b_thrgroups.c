/* kobj5b_thrgroups: supplementary groups of one thread only (the raw
 * setgroups: glibc's changes every thread). The second thread has 5, 6
 * and 700, the main thread none. After the restart each has its own. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>

static volatile int ready, go;
static char res[256];

static void groups(char *out, size_t n) {
	gid_t g[64];
	int k = syscall(SYS_getgroups, 64, g);
	int o = snprintf(out, n, "%d:", k);
	for (int i = 0; i < k && o < (int)n; i++) o += snprintf(out + o, n - o, " %u", g[i]);
}

static void *second(void *a) {
	(void)a;
	gid_t g[] = {700, 5, 6};
	if (syscall(SYS_setgroups, 3, g)) {
		snprintf(res, sizeof res, "setgroups: %s", strerror(errno));
		ready = -1;
		return NULL;
	}
	ready = 1;
	while (!go) usleep(1000);
	groups(res, sizeof res);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	gid_t none[1];
	if (syscall(SYS_setgroups, 0, none)) DIE("setgroups: %s", strerror(errno));
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!ready) usleep(1000);
	if (ready < 0) DIE("%s", res);
	kobj_wait();
	char now[256];
	groups(now, sizeof now);
	CHECK(!strcmp(now, "0:"), "main thread groups %s", now);
	go = 1;
	pthread_join(th, NULL);
	CHECK(!strcmp(res, "3: 5 6 700"), "second thread groups %s", res);
	return kobj_done();
}
