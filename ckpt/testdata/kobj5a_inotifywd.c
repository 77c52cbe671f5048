/* kobj5a_inotifywd: inotify watch numbers: watches 1 and 2 added, 1
 * removed (its IN_IGNORED read), 3 an IN_ONESHOT one that fired (its
 * events read: gone). After the restart watch 2 is wd 2 and
 * inotify_rm_watch of 1 and 3 fails EINVAL. (The next watch added is 4
 * before, 3 after: the kernel's next number shows nowhere, and a probe
 * would queue an IN_IGNORED. Not tested.) */
#include "kobj.h"
#include <sys/inotify.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	mkdir("w1", 0755); mkdir("w2", 0755); mkdir("w3", 0755); mkdir("w4", 0755);
	int in = inotify_init1(IN_NONBLOCK);
	int a = inotify_add_watch(in, "w1", IN_CREATE);
	int b = inotify_add_watch(in, "w2", IN_CREATE);
	int c = inotify_add_watch(in, "w3", IN_CREATE | IN_ONESHOT);
	if (a != 1 || b != 2 || c != 3) DIE("wds %d %d %d", a, b, c);
	inotify_rm_watch(in, a);
	close(open("w3/f", O_CREAT | O_WRONLY, 0644));
	unlink("w3/f");
	usleep(50000);
	char buf[4096];
	while (read(in, buf, sizeof buf) > 0) {}
	kobj_wait();
	CHECK(inotify_rm_watch(in, 1) < 0 && errno == EINVAL, "wd 1 is there");
	CHECK(inotify_rm_watch(in, 3) < 0 && errno == EINVAL, "wd 3 is there");
	int d = inotify_add_watch(in, "w4", IN_CREATE);
	CHECK(d >= 3, "the next watch is wd %d", d);
	CHECK(inotify_add_watch(in, "w2", IN_CREATE | IN_MASK_ADD) == 2, "w2 is not wd 2");
	close(open("w2/g", O_CREAT | O_WRONLY, 0644));
	unlink("w2/g");
	ssize_t n = read(in, buf, sizeof buf);
	struct inotify_event *ev = (void *)buf;
	CHECK(n > 0 && ev->wd == 2 && (ev->mask & IN_CREATE), "event: %zd wd %d", n, n > 0 ? ev->wd : 0);
	return kobj_done();
}
