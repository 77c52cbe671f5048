/*
 * mcastjob: a program that receives its own multicast datagrams, for the
 * batch system's network namespace test (integration/batch_mcast_test.go).
 *
 * usage: mcastjob OUTFILE STEPS DELAY_MS
 *
 * A UDP socket joins 239.5.5.5 on lo; each step a second socket sends the
 * step's number to the group, the first receives it and the program
 * writes "step I" to OUTFILE, then sleeps DELAY_MS milliseconds. A
 * datagram that does not arrive (a membership lost) ends it with
 * "lost I" and status 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 4)
		return 2;
	int steps = atoi(argv[2]), delay = atoi(argv[3]);
	FILE *out = fopen(argv[1], "a");
	int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof a;
	if (!out || bind(r, (void *)&a, sizeof a) || getsockname(r, (void *)&a, &al))
		return 3;
	struct ip_mreqn m = {.imr_ifindex = (int)if_nametoindex("lo")};
	inet_pton(AF_INET, "239.5.5.5", &m.imr_multiaddr);
	struct in_addr lo;
	inet_pton(AF_INET, "127.0.0.1", &lo);
	if (setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) || setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo))
		return 4;
	a.sin_addr = m.imr_multiaddr;
	for (int i = 0; i < steps; i++) {
		char msg[16], got[16] = "";
		snprintf(msg, sizeof msg, "%d", i);
		sendto(s, msg, strlen(msg), 0, (void *)&a, sizeof a);
		struct pollfd pf = {r, POLLIN, 0};
		ssize_t n = -1;
		/* Generous: the machines are shared. */
		if (poll(&pf, 1, 20000) == 1)
			n = recv(r, got, sizeof got - 1, 0);
		if (n >= 0)
			got[n] = 0;
		if (n < 0 || strcmp(got, msg) != 0) {
			fprintf(out, "lost %d\n", i);
			return 1;
		}
		fprintf(out, "step %d\n", i);
		fflush(out);
		struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}
