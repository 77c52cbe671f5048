/* unixpending MODE OUT GO: a unix stream listener on pend.sock with one
 * connection waiting to be accepted whose client sent "hello" and is still
 * open (MODE data) or closed (MODE closed). Writes "ready", waits until GO
 * exists, then accepts, reads and writes what it got. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 4)
		return 2;
	FILE *out = fopen(argv[2], "w");
	setvbuf(out, NULL, _IONBF, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, "pend.sock");
	unlink(a.sun_path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4))
		return 3;
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&a, sizeof a) || send(c, "hello", 5, 0) != 5)
		return 4;
	if (!strcmp(argv[1], "closed"))
		close(c);
	fprintf(out, "ready\n");
	while (access(argv[3], F_OK) != 0) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	int s = accept(l, NULL, NULL);
	char buf[16] = {0};
	ssize_t n = recv(s, buf, sizeof buf - 1, 0);
	fprintf(out, "got %zd %s\n", n, buf);
	return 0;
}
