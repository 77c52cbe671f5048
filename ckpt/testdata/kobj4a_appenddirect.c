/* kobj4a_appenddirect: a descriptor opened O_WRONLY|O_APPEND|O_DIRECT
 * (writes of whole aligned blocks at the end of file) beside a plain
 * O_RDONLY one at offset 4096: flags and offsets are kept and the next
 * direct write still lands at the end. The file is cut back to its
 * set-up size at the end (the restart runs on the same file). */
#include "kobj.h"
#include <stdint.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	static char blk[4096] __attribute__((aligned(4096)));
	int w = open("ad-file", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_DIRECT, 0644);
	if (w < 0) DIE("open O_DIRECT: %s", strerror(errno));
	for (int i = 0; i < 3; i++) {
		memset(blk, 'a' + i, sizeof blk);
		if (write(w, blk, sizeof blk) != sizeof blk) DIE("direct write: %s", strerror(errno));
	}
	int r = open("ad-file", O_RDONLY);
	lseek(r, 4096, SEEK_SET);
	int wfl = fcntl(w, F_GETFL), rfl = fcntl(r, F_GETFL);
	off_t woff = lseek(w, 0, SEEK_CUR);
	kobj_wait();
	CHECK(fcntl(w, F_GETFL) == wfl, "w flags %#x, were %#x", fcntl(w, F_GETFL), wfl);
	CHECK(fcntl(r, F_GETFL) == rfl, "r flags %#x, were %#x", fcntl(r, F_GETFL), rfl);
	CHECK(lseek(w, 0, SEEK_CUR) == woff, "w offset %ld, was %ld", (long)lseek(w, 0, SEEK_CUR), (long)woff);
	CHECK(lseek(r, 0, SEEK_CUR) == 4096, "r offset %ld", (long)lseek(r, 0, SEEK_CUR));
	struct stat st;
	fstat(w, &st);
	CHECK(st.st_size == 3 * 4096, "size %ld before the write", (long)st.st_size);
	/* A direct write lands at the end of file, whatever the offset. */
	lseek(w, 0, SEEK_SET);
	memset(blk, 'z', sizeof blk);
	CHECK(write(w, blk, sizeof blk) == sizeof blk, "direct write: %s", strerror(errno));
	fstat(w, &st);
	CHECK(st.st_size == 4 * 4096, "size %ld after the write", (long)st.st_size);
	char b[4096];
	CHECK(pread(r, b, 1, 3 * 4096) == 1 && b[0] == 'z', "the write is not at the end");
	ssize_t n = read(r, b, sizeof b);
	CHECK(n == 4096 && b[0] == 'b' && b[4095] == 'b', "read at 4096: %zd %c", n, b[0]);
	/* The original run's leftovers: the file is as the set-up left it. */
	ftruncate(w, 3 * 4096);
	return kobj_done();
}
