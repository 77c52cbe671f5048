/* kobj6_dropmap: a root process in a root-only (0700) directory forks a
 * child that maps a file of that directory, then drops to uid 65534: it
 * keeps the mapping (and its program, mapped from there too), which its
 * new uid could not open. After the restart (by root, the image restored
 * as recorded) the child must be back with the mapping's content and its
 * uid; it reports through its exit status. */
#include "kobj.h"
#include <grp.h>
#include <sys/mman.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int fd = open("mapped.dat", O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "root-only data", 14) != 14) DIE("mapped.dat: %s", strerror(errno));
	close(fd);
	int go[2];
	if (pipe(go)) DIE("pipe");
	pid_t c = fork();
	if (c == 0) {
		close(go[1]);
		int f = open("mapped.dat", O_RDONLY);
		char *m = f < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, f, 0);
		if (m == MAP_FAILED) _exit(10);
		close(f);
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) _exit(11);
		if (open("mapped.dat", O_RDONLY) >= 0) _exit(12); /* the directory keeps it out */
		char b;
		if (read(go[0], &b, 1) != 1) _exit(13);
		if (memcmp(m, "root-only data", 14)) _exit(14);
		if (getuid() != 65534 || geteuid() != 65534) _exit(15);
		_exit(0);
	}
	close(go[0]);
	usleep(100000);
	kobj_wait();
	CHECK(write(go[1], "g", 1) == 1, "tell the child: %s", strerror(errno));
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child: status %#x (10 map, 11 drop, 12 could open, 13 read, 14 content, 15 uid)", st);
	return kobj_done();
}
