/* kobj4a_unixunlinked: a datagram socket bound to a path whose file was
 * then removed (getsockname still names it, nobody can reach it by name)
 * and a stream listener whose socket file was renamed (reachable by the
 * new name only). After the restart getsockname and reachability are the
 * same: no file comes back under the removed name. */
#include "kobj.h"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	struct sockaddr_un a = {.sun_family = AF_UNIX}, b = {.sun_family = AF_UNIX}, nb = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, "uu-gone.sock");
	strcpy(b.sun_path, "uu-old.sock");
	strcpy(nb.sun_path, "uu-new.sock");
	unlink(a.sun_path);
	unlink(b.sun_path);
	unlink(nb.sun_path);
	int d = socket(AF_UNIX, SOCK_DGRAM, 0), l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(d, (void *)&a, sizeof a) || bind(l, (void *)&b, sizeof b) || listen(l, 2)) DIE("bind: %s", strerror(errno));
	unlink(a.sun_path);
	rename(b.sun_path, nb.sun_path);
	kobj_wait();
	struct sockaddr_un g;
	socklen_t gl = sizeof g;
	getsockname(d, (void *)&g, &gl);
	CHECK(strcmp(g.sun_path, "uu-gone.sock") == 0, "dgram name '%s'", g.sun_path);
	gl = sizeof g;
	getsockname(l, (void *)&g, &gl);
	CHECK(strcmp(g.sun_path, "uu-old.sock") == 0, "listener name '%s'", g.sun_path);
	struct stat st;
	CHECK(stat("uu-gone.sock", &st) < 0 && errno == ENOENT, "uu-gone.sock exists");
	CHECK(stat("uu-old.sock", &st) < 0 && errno == ENOENT, "uu-old.sock exists");
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (void *)&nb, sizeof nb) == 0, "connect by the new name: %s", strerror(errno));
	fcntl(l, F_SETFL, O_NONBLOCK);
	int acc = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	CHECK(acc >= 0, "accept: %s", strerror(errno));
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(sendto(s, "x", 1, 0, (void *)&a, sizeof a) < 0, "the removed name reaches something");
	return kobj_done();
}
