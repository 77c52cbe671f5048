/* A cgroup namespace of the program's own (unshare CLONE_NEWCGROUP, as
 * `unshare -C` and container runtimes make), with a forked child in it.
 * Modes:
 *   (none)  checked: the namespace is not the parent's (the restart's),
 *           the child's is the program's, and every line of
 *           /proc/self/cgroup says "/" (the cgroups it is in are the
 *           namespace's root);
 *   thread  a thread that unshared a namespace of its own (refused);
 *   forked  a child forked before the unshare, left outside (refused). */
#include "kobj.h"
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

static ino_t ns_of(pid_t pid) {
	char p[64];
	struct stat st;
	snprintf(p, sizeof p, "/proc/%d/ns/cgroup", (int)pid);
	if (stat(p, &st) < 0) return 0;
	return st.st_ino;
}

static void *thread_unshare(void *arg) {
	(void)arg;
	if (unshare(CLONE_NEWCGROUP) < 0) DIE("thread unshare: %s", strerror(errno));
	for (;;) pause();
	return NULL;
}

static void check_view(const char *who, pid_t pid) {
	char p[64], line[4096];
	snprintf(p, sizeof p, "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f) {
		kobj_fail("%s: %s: %s", who, p, strerror(errno));
		return;
	}
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		n++;
		char *path = strchr(line, ':');
		if (path) path = strchr(path + 1, ':');
		CHECK(path && strcmp(path + 1, "/\n") == 0, "%s: cgroup line %s", who, line);
	}
	fclose(f);
	CHECK(n > 0, "%s: no cgroup lines", who);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "";
	pid_t outside = -1;
	if (!strcmp(mode, "forked")) {
		outside = fork();
		if (outside == 0) { for (;;) pause(); }
	}
	if (unshare(CLONE_NEWCGROUP) < 0) DIE("unshare: %s", strerror(errno));
	pthread_t th;
	if (!strcmp(mode, "thread")) pthread_create(&th, NULL, thread_unshare, NULL);
	pid_t child = fork();
	if (child == 0) { for (;;) pause(); }
	kobj_wait();

	ino_t mine = ns_of(getpid()), parent = ns_of(getppid());
	CHECK(mine && parent && mine != parent, "cgroup namespace %lu, its parent's %lu: want one of its own", (unsigned long)mine, (unsigned long)parent);
	CHECK(ns_of(child) == mine, "the child's cgroup namespace %lu, want %lu", (unsigned long)ns_of(child), (unsigned long)mine);
	check_view("self", getpid());
	check_view("child", child);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (outside > 0) kill(outside, SIGKILL);
	return kobj_done();
}
