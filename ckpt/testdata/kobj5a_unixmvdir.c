/* kobj5a_unixmvdir: unix sockets whose files moved after bind: a stream
 * listener bound to d1/sock, its file renamed into d2 as sock2; a datagram
 * socket bound to d3/dg, then d3 itself renamed to d4. getsockname still
 * gives the names of the bind; the sockets are reachable by the new names
 * only. */
#include "kobj.h"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static struct sockaddr_un addr(const char *p) {
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, p);
	return a;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	mkdir("d1", 0755); mkdir("d2", 0755); mkdir("d3", 0755);
	rmdir("d4");
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = addr("d1/sock");
	if (bind(l, (void *)&a, sizeof a) || listen(l, 4)) DIE("bind d1/sock: %s", strerror(errno));
	if (rename("d1/sock", "d2/sock2")) DIE("rename: %s", strerror(errno));
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	a = addr("d3/dg");
	if (bind(d, (void *)&a, sizeof a)) DIE("bind d3/dg: %s", strerror(errno));
	if (rename("d3", "d4")) DIE("rename d3: %s", strerror(errno));
	kobj_wait();
	struct sockaddr_un g;
	socklen_t gl = sizeof g;
	getsockname(l, (void *)&g, &gl);
	CHECK(strcmp(g.sun_path, "d1/sock") == 0, "listener name '%s'", g.sun_path);
	gl = sizeof g;
	getsockname(d, (void *)&g, &gl);
	CHECK(strcmp(g.sun_path, "d3/dg") == 0, "datagram name '%s'", g.sun_path);
	struct stat st;
	CHECK(stat("d1/sock", &st) < 0 && errno == ENOENT, "d1/sock exists again");
	CHECK(stat("d3", &st) < 0 && errno == ENOENT, "d3 exists again");
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	a = addr("d2/sock2");
	CHECK(connect(c, (void *)&a, sizeof a) == 0, "connect d2/sock2: %s", strerror(errno));
	int acc = accept(l, NULL, NULL);
	CHECK(acc >= 0 && write(c, "hi", 2) == 2, "accept: %s", strerror(errno));
	char b[4] = {0};
	CHECK(acc >= 0 && read(acc, b, 4) == 2, "read from the accepted");
	int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	a = addr("d1/sock");
	CHECK(connect(c2, (void *)&a, sizeof a) < 0, "d1/sock reached something");
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	a = addr("d4/dg");
	CHECK(sendto(s, "dg", 2, 0, (void *)&a, sizeof a) == 2, "sendto d4/dg: %s", strerror(errno));
	CHECK(recv(d, b, 4, MSG_DONTWAIT) == 2, "the datagram did not come: %s", strerror(errno));
	return kobj_done();
}
