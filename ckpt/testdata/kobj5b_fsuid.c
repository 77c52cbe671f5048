/* kobj5b_fsuid: ids that all differ: real uid 1000, effective 0, saved
 * 2000, fsuid 3000; real gid 10, effective 0, saved 20, fsgid 30. After
 * the restart each is the same (the fsuid is not made the euid again),
 * a file created is owned by 3000:30, and the saved uid still lets the
 * process become 2000. */
#include "kobj.h"
#include <sys/fsuid.h>
#include <libgen.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	/* OUT is written with fsuid 3000: the test's directory lets it. */
	char d[4096];
	snprintf(d, sizeof d, "%s", argv[1]);
	char *dir = dirname(d);
	chmod(dir, 0777);
	for (char *p = strrchr(dir, '/'); p && p > dir; p = strrchr(dir, '/')) {
		*p = 0;
		struct stat st;
		if (stat(dir, &st) == 0 && !(st.st_mode & S_IXOTH)) chmod(dir, st.st_mode | S_IXOTH);
	}
	if (setresgid(10, 0, 20) || setresuid(1000, 0, 2000)) DIE("setres*: %s", strerror(errno));
	setfsgid(30);
	setfsuid(3000);
	kobj_wait();
	uid_t r, e, s;
	gid_t gr, ge, gs;
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	int fu = setfsuid(-1), fg = setfsgid(-1);
	CHECK(r == 1000 && e == 0 && s == 2000 && fu == 3000, "uids %u/%u/%u fs %d", r, e, s, fu);
	CHECK(gr == 10 && ge == 0 && gs == 20 && fg == 30, "gids %u/%u/%u fs %d", gr, ge, gs, fg);
	char p[4200];
	snprintf(p, sizeof p, "/tmp/kobj5b_fsuid.%d", getpid());
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0600);
	struct stat st = {0};
	if (fd >= 0) fstat(fd, &st);
	CHECK(fd >= 0 && st.st_uid == 3000 && st.st_gid == 30, "created file: fd %d owner %u:%u", fd, st.st_uid, st.st_gid);
	setfsuid(0);
	unlink(p);
	CHECK(setresuid(-1, 2000, -1) == 0 && geteuid() == 2000, "the saved uid 2000 no longer reached: %s", strerror(errno));
	return kobj_done();
}
