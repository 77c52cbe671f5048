/* inotify watches on removed files: one still open (by this process), one
 * still linked by another name, beside a watch on a file that is there.
 * After the restart a write through each gives one IN_MODIFY under its
 * watch descriptor. "mapped": a fourth on a removed file only mapped
 * (refused: no descriptor of the tree gives it back). */
#include "kobj.h"
#include <libgen.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

static char dir[4096];
static const char *in_dir(const char *name) {
	static char p[4][4200];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
	return p[k];
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int mapped = argc > 2 && strcmp(argv[2], "mapped") == 0;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", argv[1]);
	snprintf(dir, sizeof dir, "%s", dirname(tmp));
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (in < 0) DIE("inotify_init1: %s", strerror(errno));
	int a = open(in_dir("ino-a"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	int wa = inotify_add_watch(in, in_dir("ino-a"), IN_MODIFY);
	if (a < 0 || wa < 0 || unlink(in_dir("ino-a"))) DIE("a: %s", strerror(errno));
	int fb = open(in_dir("ino-b"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	close(fb);
	if (link(in_dir("ino-b"), in_dir("ino-b2"))) DIE("link: %s", strerror(errno));
	int wb = inotify_add_watch(in, in_dir("ino-b"), IN_MODIFY);
	if (wb < 0 || unlink(in_dir("ino-b"))) DIE("b: %s", strerror(errno));
	int fc = open(in_dir("ino-c"), O_RDWR | O_CREAT, 0644);
	close(fc);
	int wc = inotify_add_watch(in, in_dir("ino-c"), IN_MODIFY);
	if (wc < 0) DIE("c: %s", strerror(errno));
	if (mapped) {
		int fd = open(in_dir("ino-d"), O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || ftruncate(fd, 4096)) DIE("d: %s", strerror(errno));
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED || inotify_add_watch(in, in_dir("ino-d"), IN_MODIFY) < 0 || unlink(in_dir("ino-d"))) DIE("d: %s", strerror(errno));
	}
	char buf[4096];
	while (read(in, buf, sizeof buf) > 0) {
	}
	kobj_wait();
	int q = -1;
	ioctl(in, FIONREAD, &q);
	CHECK(q == 0, "%d bytes of events queued after the restart", q);
	int fd2 = open(in_dir("ino-b2"), O_WRONLY);
	int fd3 = open(in_dir("ino-c"), O_WRONLY);
	CHECK(write(a, "x", 1) == 1 && write(fd2, "y", 1) == 1 && write(fd3, "z", 1) == 1, "writes: %s", strerror(errno));
	int seen[3] = {0};
	ssize_t n = read(in, buf, sizeof buf);
	for (char *p = buf; n > 0 && p < buf + n;) {
		struct inotify_event *e = (struct inotify_event *)p;
		if (e->mask & IN_MODIFY) {
			if (e->wd == wa) seen[0]++;
			else if (e->wd == wb) seen[1]++;
			else if (e->wd == wc) seen[2]++;
			else kobj_fail("event of wd %d mask %#x", e->wd, e->mask);
		} else
			kobj_fail("event of wd %d mask %#x", e->wd, e->mask);
		p += sizeof *e + e->len;
	}
	CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1, "IN_MODIFY events: removed-open %d, removed-linked %d, present %d", seen[0], seen[1], seen[2]);
	/* ino-b2 and ino-c stay: the restart watches them again. */
	return kobj_done();
}
