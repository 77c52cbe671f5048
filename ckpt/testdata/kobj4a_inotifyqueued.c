/* kobj4a_inotifyqueued: an inotify instance holding two events not read
 * yet (IN_CREATE of two files in a watched directory). A checkpoint
 * cannot save them without reading them away from the program: refused,
 * and the program left running reads both, in order. */
#include "kobj.h"
#include <sys/inotify.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	mkdir("iq-dir", 0755);
	int fd = inotify_init1(IN_NONBLOCK);
	int wd = inotify_add_watch(fd, "iq-dir", IN_CREATE);
	if (wd < 0) DIE("inotify_add_watch: %s", strerror(errno));
	close(open("iq-dir/one", O_CREAT | O_WRONLY, 0644));
	close(open("iq-dir/two", O_CREAT | O_WRONLY, 0644));
	kobj_wait();
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);
	const char *names[2] = {0};
	int k = 0;
	for (char *p = buf; n > 0 && p < buf + n && k < 2;) {
		struct inotify_event *e = (void *)p;
		if (e->wd == wd && (e->mask & IN_CREATE)) names[k++] = e->name;
		p += sizeof *e + e->len;
	}
	CHECK(k == 2 && strcmp(names[0], "one") == 0 && strcmp(names[1], "two") == 0, "events: %d (%s, %s)", k, names[0] ? names[0] : "-", names[1] ? names[1] : "-");
	return kobj_done();
}
