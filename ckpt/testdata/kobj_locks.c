/* File locks: flock(LOCK_SH) on one file, POSIX write locks on two
 * ranges and a read lock to EOF, an OFD lock on another range. */
#include "kobj.h"
#include <sys/file.h>
#include <sys/wait.h>
#include <sys/stat.h>

static char locksnap[8192];

/* our_locks: the lines of /proc/locks for inode ino, without ids. */
static const char *our_locks(unsigned long ino) {
	static char b[8192];
	b[0] = 0;
	FILE *f = fopen("/proc/locks", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		char *p = strchr(line, ':');
		if (!p) continue;
		char type[16], adv[16], rw[16], dev[64];
		long pid;
		char start[32], end[32];
		if (sscanf(p + 1, " %15s %15s %15s %ld %63s %31s %31s", type, adv, rw, &pid, dev, start, end) != 7) continue;
		char *inop = strrchr(dev, ':');
		if (!inop || strtoul(inop + 1, NULL, 10) != ino) continue;
		char one[256];
		snprintf(one, sizeof one, "%s %s %s %ld %s %s|", type, adv, rw, strcmp(type, "POSIX") == 0 ? pid - getpid() : 0, start, end);
		strcat(b, one);
	}
	if (f) fclose(f);
	return b;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int a = open("locked-a", O_RDWR | O_CREAT, 0644);
	int b = open("locked-b", O_RDWR | O_CREAT, 0644);
	ftruncate(a, 4096);
	ftruncate(b, 4096);
	if (flock(a, LOCK_SH)) DIE("flock: %s", strerror(errno));
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 20};
	if (fcntl(b, F_SETLK, &l)) DIE("F_SETLK: %s", strerror(errno));
	l = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 1};
	fcntl(b, F_SETLK, &l);
	l = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 1000, .l_len = 0};
	fcntl(b, F_SETLK, &l);
	int o = open("locked-b", O_RDWR);
	l = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 50};
	if (fcntl(o, F_OFD_SETLK, &l)) DIE("F_OFD_SETLK: %s", strerror(errno));
	struct stat sa, sb;
	fstat(a, &sa);
	fstat(b, &sb);
	char snap[8192];
	snprintf(snap, sizeof snap, "%s", our_locks(sa.st_ino));
	snprintf(locksnap, sizeof locksnap, "%s", our_locks(sb.st_ino));
	kobj_wait();
	CHECK(strcmp(our_locks(sa.st_ino), snap) == 0, "locks of a: %s, were %s", our_locks(sa.st_ino), snap);
	CHECK(strcmp(our_locks(sb.st_ino), locksnap) == 0, "locks of b: %s, were %s", our_locks(sb.st_ino), locksnap);
	/* Another process sees them. */
	pid_t me = getpid();
	pid_t c = fork();
	if (c == 0) {
		int x = open("locked-b", O_RDWR);
		int bad = 0;
		struct flock q = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 15, .l_len = 1};
		fcntl(x, F_GETLK, &q);
		bad |= q.l_type != F_WRLCK || q.l_pid != me || q.l_start != 10 || q.l_len != 20;
		q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5000, .l_len = 1};
		fcntl(x, F_GETLK, &q);
		bad |= (q.l_type != F_RDLCK || q.l_start != 1000 || q.l_len != 0) << 1;
		q = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 210, .l_len = 1};
		fcntl(x, F_OFD_GETLK, &q);
		bad |= (q.l_type != F_WRLCK || q.l_pid != -1 || q.l_start != 200 || q.l_len != 50) << 2;
		int y = open("locked-a", O_RDWR);
		bad |= (flock(y, LOCK_EX | LOCK_NB) == 0) << 3;
		bad |= (flock(y, LOCK_SH | LOCK_NB) != 0) << 4;
		_exit(bad);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another process sees the locks wrong (bits %#x)", WEXITSTATUS(st));
	return kobj_done();
}
