/* kobj5a_dirseek: a directory of 300 entries (ext4: its offsets are
 * hashes) read halfway with getdents64 through a small buffer, the d_off
 * of the 10th entry kept; and a DIR stream read 100 entries with a
 * telldir kept at 50. After the restart reading on gives the rest, no
 * entry twice or missing; lseek to the kept d_off and seekdir resume at
 * the entry that followed. */
#include "kobj.h"
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct d64 { unsigned long long ino; long long off; unsigned short reclen; unsigned char type; char name[]; };

static char names[400][32];
static int nn;

static int readsome(int fd, int max, long long *offs) {
	char buf[512];
	int got = 0;
	while (got < max) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (n <= 0) break;
		for (long p = 0; p < n;) {
			struct d64 *d = (void *)(buf + p);
			if (strcmp(d->name, ".") && strcmp(d->name, "..")) {
				snprintf(names[nn++], 32, "%s", d->name);
				if (offs) offs[got] = d->off;
			}
			else if (offs) offs[got] = d->off;
			got++;
			p += d->reclen;
		}
	}
	return got;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	mkdir("big", 0755);
	for (int i = 0; i < 300; i++) {
		char p[64];
		snprintf(p, sizeof p, "big/entry-%03d", i);
		close(open(p, O_CREAT | O_WRONLY, 0644));
	}
	int fd = open("big", O_RDONLY | O_DIRECTORY);
	long long offs[400];
	int first = readsome(fd, 40, offs);
	char after10[32];
	{
		/* the name of entry 11 (after the 10th) is the first read after lseek(offs[9]) */
		long long o = offs[9];
		int fd2 = open("big", O_RDONLY | O_DIRECTORY);
		lseek(fd2, o, SEEK_SET);
		char buf[512];
		syscall(SYS_getdents64, fd2, buf, sizeof buf);
		snprintf(after10, sizeof after10, "%s", ((struct d64 *)buf)->name);
		close(fd2);
	}
	DIR *dir = opendir("big");
	long pos50 = 0;
	char at50[300];
	for (int i = 0; i < 100; i++) {
		if (i == 50) pos50 = telldir(dir);
		struct dirent *e = readdir(dir);
		if (i == 50) snprintf(at50, sizeof at50, "%s", e->d_name);
	}
	int before = nn;
	kobj_wait();
	readsome(fd, 1000, NULL);
	CHECK(nn == 300, "getdents gave %d entries in all (%d before)", nn, before);
	int seen[300] = {0};
	for (int i = 0; i < nn; i++) {
		int k = atoi(names[i] + 6);
		if (k >= 0 && k < 300) seen[k]++;
	}
	for (int i = 0; i < 300; i++) CHECK(seen[i] == 1, "entry %d seen %d times", i, seen[i]);
	lseek(fd, offs[9], SEEK_SET);
	char buf[512];
	CHECK(syscall(SYS_getdents64, fd, buf, sizeof buf) > 0 && strcmp(((struct d64 *)buf)->name, after10) == 0, "after lseek: '%s', want '%s'", ((struct d64 *)buf)->name, after10);
	int rest = 0;
	while (readdir(dir)) rest++;
	CHECK(rest == 302 - 100, "the DIR stream gave %d more", rest);
	seekdir(dir, pos50);
	struct dirent *e = readdir(dir);
	CHECK(e && strcmp(e->d_name, at50) == 0, "seekdir: '%s', want '%s'", e ? e->d_name : "(none)", at50);
	(void)first;
	return kobj_done();
}
