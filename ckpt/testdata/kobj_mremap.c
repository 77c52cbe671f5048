/* mremap'd regions: a private anonymous one moved and grown, a shared
 * anonymous one (shared with a forked child) moved, and a region locked
 * with MAP_LOCKED. Lines of /proc/self/maps and their VmFlags are the
 * same; the moved shared one is still shared with the child; the moved
 * private one can be grown again in place. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/wait.h>

static char *priv, *shr, *lck;
#define PG 4096

/* region: the maps line of addr and its VmFlags, from smaps. */
static const char *region(void *addr) {
	static char out[1024];
	char key[32];
	snprintf(key, sizeof key, "%lx-", (unsigned long)addr);
	const char *s = read_file("/proc/self/smaps");
	const char *l = strstr(s, key);
	out[0] = 0;
	if (!l || (l != s && l[-1] != '\n')) return out;
	const char *e = strchr(l, '\n');
	const char *f = strstr(l, "VmFlags:");
	const char *fe = f ? strchr(f, '\n') : NULL;
	snprintf(out, sizeof out, "%.*s | %.*s", (int)(e - l), l, f ? (int)(fe - f) : 0, f ? f : "");
	/* The inode of /dev/zero (deleted) is numbered anew. */
	return out;
}

/* mask_inode: the line without its device and inode (shared anonymous
 * memory is numbered anew) nor the padding after them. */
static void mask_inode(char *r) {
	char a[128], perm[8], off[32], dev[32], ino[32], rest[900];
	if (sscanf(r, "%127s %7s %31s %31s %31s %899[^\n]", a, perm, off, dev, ino, rest) != 6) return;
	snprintf(r, 1024, "%s %s %s %s", a, perm, off, rest);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *far = mmap(NULL, 64 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(far, 64 * PG);
	memset(a, 'p', 4 * PG);
	priv = mremap(a, 4 * PG, 8 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, far + 16 * PG);
	if (priv == MAP_FAILED) DIE("mremap private: %s", strerror(errno));
	priv[7 * PG] = 'q';
	/* room after it to grow in place */
	char *s = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	strcpy(s, "shared-before");
	shr = mremap(s, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, far + 40 * PG);
	if (shr == MAP_FAILED) DIE("mremap shared: %s", strerror(errno));
	lck = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	if (lck == MAP_FAILED) DIE("MAP_LOCKED: %s", strerror(errno));
	lck[0] = 'l';
	int p[2], q[2];
	if (pipe(p) || pipe(q)) DIE("pipe");
	pid_t child = fork();
	if (child == 0) {
		char c;
		if (read(p[0], &c, 1) != 1) _exit(3);
		/* the parent wrote after the restart */
		int ok = strcmp(shr, "shared-after") == 0;
		strcpy(shr + PG, "from-child");
		write(q[1], ok ? "y" : "n", 1);
		_exit(0);
	}
	char before[3][1024];
	char *addrs[] = {priv, shr, lck};
	for (int i = 0; i < 3; i++) {
		snprintf(before[i], 1024, "%s", region(addrs[i]));
		mask_inode(before[i]);
	}
	kobj_wait();
	for (int i = 0; i < 3; i++) {
		char now[1024];
		snprintf(now, sizeof now, "%s", region(addrs[i]));
		mask_inode(now);
		CHECK(strcmp(now, before[i]) == 0, "region %d: %s, was %s", i, now, before[i]);
	}
	CHECK(priv[0] == 'p' && priv[4 * PG - 1] == 'p' && priv[7 * PG] == 'q' && lck[0] == 'l', "content");
	char *g = mremap(priv, 8 * PG, 12 * PG, 0);
	CHECK(g == priv, "grow in place: %p (%s)", g, g == MAP_FAILED ? strerror(errno) : "moved");
	strcpy(shr, "shared-after");
	write(p[1], "x", 1);
	char c = 0;
	read(q[0], &c, 1);
	CHECK(c == 'y', "the child did not see the parent's write in the moved shared region (%c)", c);
	CHECK(strcmp(shr + PG, "from-child") == 0, "the parent did not see the child's write");
	int st;
	waitpid(child, &st, 0);
	return kobj_done();
}
