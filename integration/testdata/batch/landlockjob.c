/*
 * landlockjob: a job confined by a landlock ruleset, for the batch
 * system's refusal test.
 *
 * usage: landlockjob
 *
 * It forbids itself to make regular files anywhere (a ruleset that
 * handles LANDLOCK_ACCESS_FS_MAKE_REG and allows it nowhere), checks that
 * making one fails with EACCES, prints "ready", then looks every 20 ms for
 * a file "stop" in its working directory and exits 0 when it is there,
 * 1 if it finds itself no longer confined. A checkpoint cannot read its
 * rules back: it must be refused, and the job run on confined.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int confined(void) {
	errno = 0;
	int fd = open("landlock-probe", O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd >= 0) {
		close(fd);
		unlink("landlock-probe");
		return 0;
	}
	return errno == EACCES;
}

int main(void) {
	struct landlock_ruleset_attr ra = {.handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_REG};
	int rs = syscall(SYS_landlock_create_ruleset, &ra, sizeof ra, 0);
	if (rs < 0) {
		printf("landlock_create_ruleset: %s\n", strerror(errno));
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_landlock_restrict_self, rs, 0)) {
		printf("landlock_restrict_self: %s\n", strerror(errno));
		return 2;
	}
	close(rs);
	if (!confined()) {
		printf("not confined\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	struct timespec ts = {0, 20 * 1000 * 1000};
	struct stat st;
	while (stat("stop", &st) != 0) nanosleep(&ts, NULL);
	if (!confined()) {
		printf("no longer confined\n");
		return 1;
	}
	printf("done\n");
	return 0;
}
