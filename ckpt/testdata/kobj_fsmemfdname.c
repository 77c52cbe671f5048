/* memfd names exactly as they were: the longest (249 bytes), one with
 * spaces and " (deleted)" in it, an empty one; a memfd mapped shared
 * whose descriptor was closed: its mapping's file (by
 * /proc/self/map_files) keeps its name and content (its seals are not
 * recorded: not restored). */
#include "kobj.h"
#include <sys/mman.h>

static char names[3][300];
static const char *link_of(int fd) {
	static char t[512];
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	memset(t, 0, sizeof t);
	readlink(p, t, sizeof t - 1);
	return t;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char longname[250];
	memset(longname, 'n', 249);
	longname[249] = 0;
	const char *want[] = {longname, "with spaces (deleted) inside", ""};
	int fds[3];
	for (int i = 0; i < 3; i++) {
		fds[i] = memfd_create(want[i], 0);
		if (fds[i] < 0) DIE("memfd_create %d: %s", i, strerror(errno));
		snprintf(names[i], sizeof names[i], "%s", link_of(fds[i]));
	}
	int s = memfd_create("kobj-mapped-only", MFD_ALLOW_SEALING);
	ftruncate(s, 4096);
	write(s, "mapped only", 11);
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", s);
	int ro = open(p, O_RDONLY);
	char *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
	close(ro);
	if (fcntl(s, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK)) DIE("seal: %s", strerror(errno));
	close(s);
	char mf[128];
	snprintf(mf, sizeof mf, "/proc/self/map_files/%lx-%lx", (unsigned long)m, (unsigned long)m + 4096);
	char mname[512] = {0};
	readlink(mf, mname, sizeof mname - 1);
	kobj_wait();
	for (int i = 0; i < 3; i++) CHECK(strcmp(link_of(fds[i]), names[i]) == 0, "memfd %d is %s, was %s", i, link_of(fds[i]), names[i]);
	char now[512] = {0};
	readlink(mf, now, sizeof now - 1);
	CHECK(strcmp(now, mname) == 0, "mapped memfd is %s, was %s", now, mname);
	CHECK(memcmp(m, "mapped only", 11) == 0, "mapped content");
	return kobj_done();
}
