/* kobj5a_badname: names that are bytes, not UTF-8: a file "odd\xff\xfe"
 * open read-write at offset 3, a directory "\xc3(" open O_DIRECTORY and
 * the working directory "\xe2\x82" made under it; a unix socket bound to
 * the path "s\xff" (relative to it). After the restart each is that
 * object, by its name. */
#include "kobj.h"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int f = open("odd\xff\xfe", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(f, "bytes", 5);
	lseek(f, 3, SEEK_SET);
	mkdir("\xc3(", 0755);
	int d = open("\xc3(", O_RDONLY | O_DIRECTORY);
	mkdir("\xc3(/\xe2\x82", 0755);
	if (f < 0 || d < 0 || chdir("\xc3(/\xe2\x82")) DIE("set-up: %s", strerror(errno));
	unlink("s\xff");
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, "s\xff");
	if (bind(s, (void *)&a, sizeof a)) DIE("bind: %s", strerror(errno));
	struct stat sf, sd, sc;
	fstat(f, &sf); fstat(d, &sd); stat(".", &sc);
	kobj_wait();
	struct stat t;
	CHECK(fstat(f, &t) == 0 && t.st_ino == sf.st_ino && lseek(f, 0, SEEK_CUR) == 3, "the file");
	CHECK(stat("../../odd\xff\xfe", &t) == 0 && t.st_ino == sf.st_ino, "the file's name");
	CHECK(fstat(d, &t) == 0 && t.st_ino == sd.st_ino, "the directory");
	CHECK(stat(".", &t) == 0 && t.st_ino == sc.st_ino, "the working directory");
	struct sockaddr_un g;
	socklen_t gl = sizeof g;
	getsockname(s, (void *)&g, &gl);
	CHECK(strcmp(g.sun_path, "s\xff") == 0, "socket name '%s'", g.sun_path);
	int c = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(sendto(c, "x", 1, 0, (void *)&a, sizeof a) == 1, "sendto: %s", strerror(errno));
	return kobj_done();
}
