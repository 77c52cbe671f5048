/* kobj5b_thrcreds: credentials of one thread only. A second thread sets
 * its own ids by the raw system calls (glibc's setresuid would change
 * every thread): uids 1001/1002/1003, fsuid 1004, gids 2001/2002/2003,
 * fsgid 2004, while the main thread stays root. After the restart each
 * thread has its own again: the main thread root with its capabilities,
 * the second one its ids and no capability. */
#include "kobj.h"
#include <pthread.h>
#include <sys/syscall.h>

static volatile int ready, go, done;
static char res[512];
static pid_t tid2;

static void ids(char *out, size_t n) {
	unsigned r, e, s, gr, ge, gs;
	syscall(SYS_getresuid, &r, &e, &s);
	syscall(SYS_getresgid, &gr, &ge, &gs);
	int fu = syscall(SYS_setfsuid, -1), fg = syscall(SYS_setfsgid, -1);
	snprintf(out, n, "uid %u/%u/%u/%d gid %u/%u/%u/%d", r, e, s, fu, gr, ge, gs, fg);
}

static void *second(void *a) {
	(void)a;
	tid2 = syscall(SYS_gettid);
	if (syscall(SYS_setresgid, 2001, 2002, 2003) || syscall(SYS_setresuid, 1001, 1002, 1003)) {
		snprintf(res, sizeof res, "setresuid: %s", strerror(errno));
		ready = -1;
		return NULL;
	}
	syscall(SYS_setfsgid, 2004); /* a no-op by now: the thread has no CAP_SETGID */
	syscall(SYS_setfsuid, 1003); /* the saved uid: allowed */
	ready = 1;
	while (!go) usleep(1000);
	ids(res, sizeof res);
	done = 1;
	return NULL;
}

static const char *statusline(pid_t tid, const char *key) {
	static char line[256];
	char p[64];
	snprintf(p, sizeof p, "/proc/self/task/%d/status", tid);
	FILE *f = fopen(p, "r");
	line[0] = 0;
	if (!f) return line;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, strlen(key))) break;
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	return line;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!ready) usleep(1000);
	if (ready < 0) DIE("%s", res);
	char before[512], capb[128], uidb[128], gidb[128];
	snprintf(uidb, sizeof uidb, "%s", statusline(tid2, "Uid:"));
	snprintf(gidb, sizeof gidb, "%s", statusline(tid2, "Gid:"));
	snprintf(capb, sizeof capb, "%s", statusline(tid2, "CapEff:"));
	ids(before, sizeof before);
	kobj_wait();
	char now[512];
	ids(now, sizeof now);
	CHECK(!strcmp(now, "uid 0/0/0/0 gid 0/0/0/0"), "main thread: %s (was %s)", now, before);
	CHECK(strcmp(statusline(syscall(SYS_gettid), "CapEff:"), "CapEff:\t0000000000000000"), "main thread lost its capabilities: %s", statusline(syscall(SYS_gettid), "CapEff:"));
	CHECK(!strcmp(statusline(tid2, "Uid:"), uidb), "thread %s, was %s", statusline(tid2, "Uid:"), uidb);
	CHECK(!strcmp(statusline(tid2, "Gid:"), gidb), "thread %s, was %s", statusline(tid2, "Gid:"), gidb);
	CHECK(!strcmp(statusline(tid2, "CapEff:"), capb), "thread %s, was %s", statusline(tid2, "CapEff:"), capb);
	go = 1;
	pthread_join(th, NULL);
	CHECK(!strcmp(res, "uid 1001/1002/1003/1003 gid 2001/2002/2003/2002"), "second thread: %s", res);
	return kobj_done();
}
