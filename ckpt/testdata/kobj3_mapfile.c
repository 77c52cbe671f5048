/* kobj3_mapfile: a MAP_SHARED file mapping written without msync shows its
 * bytes in the file and stays shared with it; a MAP_PRIVATE mapping of the
 * same file keeps its modified page apart from the file. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char path[4096];
	snprintf(path, sizeof path, "%s.data", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 3 * 4096)) DIE("file");
	char *sh = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *pr = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (sh == MAP_FAILED || pr == MAP_FAILED) DIE("mmap");
	close(fd);
	memcpy(sh + 4096, "SHARED", 6);
	memcpy(pr + 8192, "PRIVATE", 7);
	kobj_wait();
	/* Nothing stores to the file after the set-up (the restart would find
	 * it changed): the shared map is found to be the file by its inode and
	 * by the bytes it stored before. */
	fd = open(path, O_RDONLY);
	char b[16] = {0};
	pread(fd, b, 6, 4096);
	CHECK(memcmp(b, "SHARED", 6) == 0, "file at 4096: '%s'", b);
	pread(fd, b, 7, 8192);
	CHECK(b[0] == 0, "the private page reached the file: '%.7s'", b);
	CHECK(memcmp(pr + 8192, "PRIVATE", 7) == 0, "the private page lost its bytes");
	CHECK(memcmp(sh + 4096, "SHARED", 6) == 0, "the shared map lost its bytes");
	struct stat st, ms, mp;
	fstat(fd, &st);
	char mf[128];
	snprintf(mf, sizeof mf, "/proc/self/map_files/%lx-%lx", (unsigned long)sh, (unsigned long)sh + 3 * 4096);
	CHECK(stat(mf, &ms) == 0 && ms.st_ino == st.st_ino && ms.st_dev == st.st_dev, "the shared map is not the file");
	snprintf(mf, sizeof mf, "/proc/self/map_files/%lx-%lx", (unsigned long)pr, (unsigned long)pr + 3 * 4096);
	CHECK(stat(mf, &mp) == 0 && mp.st_ino == st.st_ino, "the private map is not of the file");
	char want[64], line[512];
	snprintf(want, sizeof want, "%lx-", (unsigned long)sh);
	FILE *m = fopen("/proc/self/maps", "r");
	int shared = 0, priv = 0;
	while (m && fgets(line, sizeof line, m)) {
		if (strncmp(line, want, strlen(want)) == 0) shared = strstr(line, " rw-s ") != NULL;
		char w2[64];
		snprintf(w2, sizeof w2, "%lx-", (unsigned long)pr);
		if (strncmp(line, w2, strlen(w2)) == 0) priv = strstr(line, " rw-p ") != NULL;
	}
	if (m) fclose(m);
	CHECK(shared, "the shared map is not rw-s");
	CHECK(priv, "the private map is not rw-p");
	close(fd);
	return kobj_done();
}
