/* udppair OUT GOFILE: two UDP sockets on loopback connected to each other
 * and a third bound one; datagrams are queued in all three, then it waits
 * for GOFILE and reads them back, checking order, content, boundaries and
 * sender addresses. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sock(struct sockaddr_in *a) {
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof *a;
	bind(s, (void *)a, l);
	getsockname(s, (void *)a, &l);
	return s;
}

static int drain(FILE *out, const char *name, int s, struct sockaddr_in *from, const char *prefix, int want) {
	char buf[256];
	int i = 0;
	for (;;) {
		struct sockaddr_in f;
		socklen_t fl = sizeof f;
		ssize_t n = recvfrom(s, buf, sizeof buf - 1, MSG_DONTWAIT, (void *)&f, &fl);
		if (n < 0) break;
		buf[n] = 0;
		char exp[64];
		snprintf(exp, sizeof exp, "%s %d", prefix, i);
		if (strcmp(buf, exp) != 0 || f.sin_port != from->sin_port || f.sin_addr.s_addr != from->sin_addr.s_addr) {
			fprintf(out, "%s: datagram %d is %s from port %d\n", name, i, buf, ntohs(f.sin_port));
			return 0;
		}
		i++;
	}
	fprintf(out, "%s: %d datagrams\n", name, i);
	return i == want;
}

int main(int argc, char **argv) {
	if (argc != 3) return 2;
	struct sockaddr_in aa, ba, ca;
	int a = sock(&aa), b = sock(&ba), c = sock(&ca);
	connect(a, (void *)&ba, sizeof ba);
	connect(b, (void *)&aa, sizeof aa);
	char m[64];
	for (int i = 0; i < 5; i++) { snprintf(m, sizeof m, "a to b %d", i); send(a, m, strlen(m), 0); }
	for (int i = 0; i < 3; i++) { snprintf(m, sizeof m, "b to a %d", i); send(b, m, strlen(m), 0); }
	for (int i = 0; i < 4; i++) { snprintf(m, sizeof m, "a to c %d", i); sendto(a, m, strlen(m), 0, (void *)&ca, sizeof ca); }
	FILE *out = fopen(argv[1], "w");
	setvbuf(out, NULL, _IOLBF, 0);
	fprintf(out, "queued\n");
	while (access(argv[2], F_OK) != 0) usleep(10000);
	int ok = drain(out, "b", b, &aa, "a to b", 5) & drain(out, "a", a, &ba, "b to a", 3) & drain(out, "c", c, &aa, "a to c", 4);
	return ok ? 0 : 1;
}
