/* kobj4a_packet: an AF_PACKET socket (SOCK_DGRAM, ETH_P_IP) bound to the
 * loopback interface, and a raw IP socket (SOCK_RAW, IPPROTO_ICMP). Both
 * are refused by name ("is socket"); left running, the raw one still
 * sends an echo request the packet one sees. */
#include "kobj.h"
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>
#include <net/ethernet.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int which = argc > 2 && strcmp(argv[2], "raw") == 0;
	int p = -1, r = -1;
	if (!which) {
		p = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
		struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = if_nametoindex("lo")};
		if (p < 0 || bind(p, (void *)&ll, sizeof ll)) DIE("packet: %s", strerror(errno));
	}
	r = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (r < 0) DIE("raw: %s", strerror(errno));
	kobj_wait();
	struct icmphdr h = {.type = ICMP_ECHO, .un.echo.id = htons(0x4a4a), .un.echo.sequence = htons(1)};
	unsigned sum = 0;
	unsigned short *w = (void *)&h;
	for (unsigned i = 0; i < sizeof h / 2; i++) sum += w[i];
	sum = (sum >> 16) + (sum & 0xffff);
	h.checksum = ~(sum + (sum >> 16));
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK(sendto(r, &h, sizeof h, 0, (void *)&to, sizeof to) == sizeof h, "raw send: %s", strerror(errno));
	char buf[2048];
	int seen = 0;
	for (int i = 0; i < 200 && !seen; i++) {
		int fd = which ? r : p;
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0) { usleep(10000); continue; }
		/* An IP packet (the packet socket gives it without the link header, as the raw one does). */
		if (n >= 28 && buf[9] == IPPROTO_ICMP && ((struct icmphdr *)(buf + (buf[0] & 15) * 4))->un.echo.id == htons(0x4a4a)) seen = 1;
	}
	CHECK(seen, "the echo request was not seen");
	return kobj_done();
}
