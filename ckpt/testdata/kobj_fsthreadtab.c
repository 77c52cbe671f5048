/* A thread with a descriptor table of its own (unshare(CLONE_FILES)
 * ("files") or a working directory of its own (unshare(CLONE_FS), "fs"):
 * a descriptor only it has, or a cwd only it is in. The checkpoint
 * refuses it (the restart makes the threads of a process with one table
 * and one fs struct), leaving the program as it was. */
#include "kobj.h"
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>

static int mine = -1;
static char tcwd[4096];
static pthread_barrier_t bar;

static void *thread(void *arg) {
	const char *mode = arg;
	if (strcmp(mode, "files") == 0) {
		if (unshare(CLONE_FILES)) { kobj_fail("unshare: %s", strerror(errno)); }
		mine = open("thread-only", O_RDWR | O_CREAT, 0644);
	} else {
		if (unshare(CLONE_FS)) { kobj_fail("unshare: %s", strerror(errno)); }
		mkdir("tdir", 0755);
		chdir("tdir");
		getcwd(tcwd, sizeof tcwd);
	}
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	if (strcmp(mode, "files") == 0) {
		CHECK(fcntl(mine, F_GETFD) >= 0, "the thread lost its descriptor");
	} else {
		char now[4096];
		CHECK(getcwd(now, sizeof now) && strcmp(now, tcwd) == 0, "thread cwd %s, was %s", now, tcwd);
	}
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (argc < 3) DIE("usage: OUT files|fs");
	pthread_barrier_init(&bar, NULL, 2);
	pthread_t t;
	pthread_create(&t, NULL, thread, argv[2]);
	pthread_barrier_wait(&bar);
	char cwd[4096];
	getcwd(cwd, sizeof cwd);
	kobj_wait();
	pthread_barrier_wait(&bar);
	pthread_join(t, NULL);
	if (strcmp(argv[2], "files") == 0) CHECK(fcntl(mine, F_GETFD) < 0, "the thread's descriptor is in the process's table");
	char now[4096];
	CHECK(getcwd(now, sizeof now) && strcmp(now, cwd) == 0, "process cwd %s, was %s", now, cwd);
	return kobj_done();
}
