/* kobj5a_openflags: status flags exactly: O_DSYNC alone (not O_SYNC),
 * O_SYNC, O_RDONLY|O_NOATIME, O_APPEND|O_NONBLOCK, a file opened
 * O_WRONLY|O_CREAT|O_TRUNC and written after (the restart must not cut
 * it), one O_RDWR|O_CREAT|O_EXCL (its name exists: the restart must open
 * it all the same); an offset 1 MiB past the end of a 10-byte file. */
#include "kobj.h"

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fds[7];
	int fl[7];
	const char *names[] = {"dsync", "sync", "noatime", "append", "trunc", "excl", "beyond"};
	for (int i = 0; i < 7; i++) {
		int f = open(names[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		write(f, "0123456789", 10);
		close(f);
	}
	unlink("excl");
	fds[0] = open("dsync", O_RDWR | O_DSYNC);
	fds[1] = open("sync", O_WRONLY | O_SYNC);
	fds[2] = open("noatime", O_RDONLY | O_NOATIME);
	fds[3] = open("append", O_WRONLY | O_APPEND | O_NONBLOCK);
	fds[4] = open("trunc", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fds[5] = open("excl", O_RDWR | O_CREAT | O_EXCL, 0600);
	fds[6] = open("beyond", O_RDWR);
	for (int i = 0; i < 7; i++)
		if (fds[i] < 0) DIE("open %s: %s", names[i], strerror(errno));
	write(fds[4], "abc", 3);
	write(fds[5], "excl", 4);
	lseek(fds[6], 1 << 20, SEEK_SET);
	lseek(fds[2], 7, SEEK_SET);
	for (int i = 0; i < 7; i++) fl[i] = fcntl(fds[i], F_GETFL);
	kobj_wait();
	for (int i = 0; i < 7; i++) CHECK(fcntl(fds[i], F_GETFL) == fl[i], "%s: flags %#o, were %#o", names[i], fcntl(fds[i], F_GETFL), fl[i]);
	CHECK((fl[0] & O_SYNC) == O_DSYNC, "dsync has O_SYNC");
	CHECK(strcmp(read_file("trunc"), "abc") == 0, "trunc holds '%s'", read_file("trunc"));
	CHECK(lseek(fds[4], 0, SEEK_CUR) == 3, "trunc offset");
	CHECK(strcmp(read_file("excl"), "excl") == 0, "excl holds '%s'", read_file("excl"));
	CHECK(lseek(fds[6], 0, SEEK_CUR) == 1 << 20, "beyond offset %ld", (long)lseek(fds[6], 0, SEEK_CUR));
	CHECK(lseek(fds[6], 0, SEEK_END) == 10, "beyond size %ld", (long)lseek(fds[6], 0, SEEK_END));
	CHECK(lseek(fds[2], 0, SEEK_CUR) == 7, "noatime offset");
	CHECK(write(fds[3], "!", 1) == 1 && lseek(fds[3], 0, SEEK_CUR) == 11, "append");
	/* Back as the set-up left them, for the restart. */
	ftruncate(fds[3], 10);
	return kobj_done();
}
