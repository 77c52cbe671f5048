/* kobj4a_inotifyflags: inotify watches with flags of their own: IN_ONESHOT
 * (not fired yet) on a file, IN_ONLYDIR|IN_EXCL_UNLINK on a directory,
 * IN_DONT_FOLLOW on a symlink, one grown by IN_MASK_ADD; and an
 * IN_NONBLOCK|IN_CLOEXEC instance. fdinfo masks are the same; the oneshot
 * watch fires once and is gone (IN_IGNORED). */
#include "kobj.h"
#include <sys/inotify.h>
#include <sys/stat.h>

static char before[4096];

static const char *watches(int fd) {
	static char b[4096];
	char p[64], line[512];
	snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(p, "r");
	b[0] = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, "inotify", 7)) continue;
		/* wd, ino, mask, ignored_mask; not sdev (same) nor fhandle. */
		char *fh = strstr(line, " fhandle");
		if (fh) *fh = 0;
		strcat(b, line);
		strcat(b, "|");
	}
	if (f) fclose(f);
	return b;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	mkdir("in-dir", 0755);
	close(open("in-file", O_RDWR | O_CREAT, 0644));
	close(open("in-other", O_RDWR | O_CREAT, 0644));
	symlink("in-file", "in-link");
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	int w1 = inotify_add_watch(fd, "in-file", IN_MODIFY | IN_ONESHOT);
	int w2 = inotify_add_watch(fd, "in-dir", IN_CREATE | IN_ONLYDIR | IN_EXCL_UNLINK);
	int w3 = inotify_add_watch(fd, "in-link", IN_ATTRIB | IN_DONT_FOLLOW);
	int w4 = inotify_add_watch(fd, "in-other", IN_OPEN);
	int w4b = inotify_add_watch(fd, "in-other", IN_CLOSE_WRITE | IN_MASK_ADD);
	if (w1 < 0 || w2 < 0 || w3 < 0 || w4 < 0 || w4b != w4) DIE("watches %d %d %d %d %d", w1, w2, w3, w4, w4b);
	snprintf(before, sizeof before, "%s", watches(fd));
	int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
	kobj_wait();
	CHECK(strcmp(watches(fd), before) == 0, "watches\n%s\nwere\n%s", watches(fd), before);
	CHECK(fcntl(fd, F_GETFL) == fl && fcntl(fd, F_GETFD) == fdf, "flags %#x %d, were %#x %d", fcntl(fd, F_GETFL), fcntl(fd, F_GETFD), fl, fdf);
	char buf[4096];
	CHECK(read(fd, buf, sizeof buf) < 0 && errno == EAGAIN, "events before any");
	int x = open("in-file", O_WRONLY);
	write(x, "a", 1);
	write(x, "b", 1);
	close(x);
	ssize_t n = read(fd, buf, sizeof buf);
	int modify = 0, ignored = 0, other = 0;
	for (char *p = buf; n > 0 && p < buf + n;) {
		struct inotify_event *e = (void *)p;
		if (e->wd == w1 && (e->mask & IN_MODIFY)) modify++;
		else if (e->wd == w1 && (e->mask & IN_IGNORED)) ignored++;
		else other++;
		p += sizeof *e + e->len;
	}
	CHECK(modify == 1 && ignored == 1 && other == 0, "oneshot: %d modify, %d ignored, %d other", modify, ignored, other);
	truncate("in-file", 0);
	x = open("in-other", O_WRONLY);
	close(x);
	n = read(fd, buf, sizeof buf);
	int opens = 0, closes = 0;
	for (char *p = buf; n > 0 && p < buf + n;) {
		struct inotify_event *e = (void *)p;
		if (e->wd == w4 && (e->mask & IN_OPEN)) opens++;
		if (e->wd == w4 && (e->mask & IN_CLOSE_WRITE)) closes++;
		p += sizeof *e + e->len;
	}
	CHECK(opens == 1 && closes == 1, "mask-added watch: %d opens, %d close-writes", opens, closes);
	return kobj_done();
}
