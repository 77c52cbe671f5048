/* A fanotify group (FAN_CLASS_NOTIF, nonblocking) with an inode mark on a
 * file and a directory mark for its children: fdinfo is the same after
 * the restart, and opening the file gives an event.
 * "queued": an event is left unread; "perm": a FAN_CLASS_CONTENT group;
 * "inherit": made without FAN_CLOEXEC (fdinfo's flags say so, and the
 * descriptor is not close-on-exec). */
#include "kobj.h"
#include <sys/fanotify.h>
#include <sys/stat.h>

static char info[4096];

static const char *fan_lines(int fd) {
	static char b[4096];
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(p, "r");
	char line[512];
	b[0] = 0;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "fanotify", 8) == 0) strcat(b, line);
	if (f) fclose(f);
	return b;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	close(open("watched", O_CREAT | O_WRONLY, 0644));
	mkdir("wdir", 0755);
	int queued = argc > 2 && strcmp(argv[2], "queued") == 0, perm = argc > 2 && strcmp(argv[2], "perm") == 0;
	int inherit = argc > 2 && strcmp(argv[2], "inherit") == 0;
	int fa = fanotify_init((perm ? FAN_CLASS_CONTENT : FAN_CLASS_NOTIF) | FAN_NONBLOCK | (inherit ? 0 : FAN_CLOEXEC), O_RDONLY | O_LARGEFILE);
	if (fa < 0) DIE("fanotify_init: %s", strerror(errno));
	if (fanotify_mark(fa, FAN_MARK_ADD, FAN_OPEN | FAN_CLOSE_WRITE, AT_FDCWD, "watched")) DIE("mark: %s", strerror(errno));
	if (fanotify_mark(fa, FAN_MARK_ADD, FAN_CREATE | FAN_EVENT_ON_CHILD | FAN_ONDIR, AT_FDCWD, "wdir") &&
	    fanotify_mark(fa, FAN_MARK_ADD, FAN_OPEN | FAN_EVENT_ON_CHILD, AT_FDCWD, "wdir"))
		DIE("dir mark: %s", strerror(errno));
	snprintf(info, sizeof info, "%s", fan_lines(fa));
	if (queued) close(open("watched", O_RDONLY));
	kobj_wait();
	if (queued || perm) {
		char ev[4096];
		ssize_t n = read(fa, ev, sizeof ev);
		CHECK(queued ? n > 0 : n < 0, "queued event: read %zd", n);
		return kobj_done();
	}
	CHECK(strcmp(fan_lines(fa), info) == 0, "fdinfo:\n%s\nwas:\n%s", fan_lines(fa), info);
	CHECK(fcntl(fa, F_GETFL) & O_NONBLOCK, "lost O_NONBLOCK");
	CHECK(fcntl(fa, F_GETFD) == (inherit ? 0 : FD_CLOEXEC), "descriptor flags %d", fcntl(fa, F_GETFD));
	char buf[4096];
	CHECK(read(fa, buf, sizeof buf) < 0 && errno == EAGAIN, "an event before any");
	close(open("watched", O_RDONLY));
	ssize_t n = read(fa, buf, sizeof buf);
	struct fanotify_event_metadata *m = (void *)buf;
	CHECK(n > 0 && FAN_EVENT_OK(m, n) && (m->mask & FAN_OPEN) && m->pid == getpid(), "no open event after the restart (%zd)", n);
	if (n > 0 && m->fd >= 0) {
		char p[64], t[512] = {0};
		snprintf(p, sizeof p, "/proc/self/fd/%d", m->fd);
		readlink(p, t, sizeof t - 1);
		CHECK(strstr(t, "/watched") != NULL, "event for %s", t);
		close(m->fd);
	}
	return kobj_done();
}
