/* File mappings and their descriptor's access mode: a file opened
 * read-only mapped shared PROT_READ may never be made writable (EACCES);
 * one opened read-write mapped PROT_READ then mprotect'ed writable writes
 * the file; a read-only file mapped private and mprotect'ed writable has
 * its private page, the file unchanged. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (argc > 2 && (mkdir(argv[2], 0700), chdir(argv[2]))) DIE("chdir %s: %s", argv[2], strerror(errno));
	int w = open("data", O_RDWR | O_CREAT | O_TRUNC, 0644);
	char page[4096];
	memset(page, 'f', sizeof page);
	write(w, page, sizeof page);
	close(w);
	int ro = open("data", O_RDONLY);
	int rw = open("data", O_RDWR);
	char *s = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
	char *t = mmap(NULL, 4096, PROT_READ, MAP_SHARED, rw, 0);
	char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, ro, 0);
	char *later = mmap(NULL, 4096, PROT_READ, MAP_SHARED, rw, 0);
	close(ro);
	if (later == MAP_FAILED || s == MAP_FAILED || t == MAP_FAILED || p == MAP_FAILED) DIE("mmap: %s", strerror(errno));
	if (mprotect(p, 4096, PROT_READ | PROT_WRITE)) DIE("mprotect private: %s", strerror(errno));
	p[0] = 'P';
	if (mprotect(t, 4096, PROT_READ | PROT_WRITE)) DIE("mprotect rw: %s", strerror(errno));
	errno = 0;
	if (mprotect(s, 4096, PROT_READ | PROT_WRITE) == 0 || errno != EACCES) DIE("mprotect of a read-only shared mapping: %s", strerror(errno));
	struct stat before;
	fstat(rw, &before);
	kobj_wait();
	errno = 0;
	CHECK(mprotect(s, 4096, PROT_READ | PROT_WRITE) < 0 && errno == EACCES, "read-only shared mapping made writable (%s)", strerror(errno));
	t[1] = 'T';
	char b[4] = {0};
	pread(rw, b, 2, 0);
	CHECK(b[0] == 'f' && b[1] == 'T', "write through the writable mapping not in the file: %.2s", b);
	CHECK(s[1] == 'T', "the read-only mapping is not of the file");
	/* The file as it was, modification time too: the restart from the
	 * same image (after this run) finds it unchanged. */
	t[1] = 'f';
	msync(t, 4096, MS_SYNC);
	struct timespec ts[2] = {before.st_atim, before.st_mtim};
	futimens(rw, ts);
	CHECK(p[0] == 'P' && p[1] == 'f', "private page %.2s", p);
	CHECK(mprotect(later, 4096, PROT_READ | PROT_WRITE) == 0, "a read-only shared mapping of a read-write descriptor cannot be made writable: %s", strerror(errno));
	mprotect(later, 4096, PROT_READ);
	CHECK(mprotect(p, 4096, PROT_READ) == 0 && mprotect(p, 4096, PROT_READ | PROT_WRITE) == 0, "private mapping: %s", strerror(errno));
	return kobj_done();
}
