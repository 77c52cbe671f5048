/* kobj5m_groups: a UDP socket joined to two groups on lo, one by
 * IP_ADD_MEMBERSHIP (struct ip_mreqn), one by MCAST_JOIN_GROUP (or to N
 * groups: argument N), and a second socket on the same port that is a
 * member of none and takes no group's datagrams (IP_MULTICAST_ALL off);
 * the sender chooses lo by address (IP_MULTICAST_IF) with
 * IP_MULTICAST_TTL 4. A third socket on the port is bound to the first
 * group's address and joined to it. Each socket must keep exactly its
 * memberships: the member receives its groups' datagrams, not those of a
 * group it did not join, the socket bound to the group that group's only,
 * and the other socket nothing. */
#include "kobj5m.h"

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int ngroups = argc > 2 ? atoi(argv[2]) : 2;
	int port = 0;
	int r = mc_receiver(AF_INET, &port), n = mc_receiver(AF_INET, &port);
	seti(n, IPPROTO_IP, IP_MULTICAST_ALL, 0);
	char groups[16][32];
	for (int i = 0; i < ngroups && i < 16; i++) {
		snprintf(groups[i], sizeof groups[i], "239.1.1.%d", i + 1);
		if (i == 0) {
			struct ip_mreqn m = {.imr_ifindex = if_nametoindex("lo")};
			inet_pton(AF_INET, groups[i], &m.imr_multiaddr);
			if (setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m)) DIE("IP_ADD_MEMBERSHIP: %s", strerror(errno));
		} else
			mc_join(r, "lo", groups[i]);
	}
	int g = socket(AF_INET, SOCK_DGRAM, 0);
	seti(g, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_storage ga = mc_addr(groups[0], port);
	if (bind(g, (void *)&ga, mc_len(&ga))) DIE("bind %s:%d: %s", groups[0], port, strerror(errno));
	mc_join(g, "lo", groups[0]);
	int s = mc_sender4("127.0.0.1", "127.0.0.1", 1);
	seti(s, IPPROTO_IP, IP_MULTICAST_TTL, 4);
	kobj_wait();
	char want[1024] = "";
	for (int i = 0; i < ngroups && i < 16; i++) {
		const char *f = mc_filter(r, "lo", groups[i]);
		CHECK(strcmp(f, "exclude") == 0, "member socket, group %s: filter %s, was exclude", groups[i], f);
		f = mc_filter(n, "lo", groups[i]);
		CHECK(strcmp(f, "none") == 0, "other socket, group %s: filter %s, was none", groups[i], f);
	}
	CHECK(geti(n, IPPROTO_IP, IP_MULTICAST_ALL) == 0, "other socket: IP_MULTICAST_ALL %d, was 0", geti(n, IPPROTO_IP, IP_MULTICAST_ALL));
	CHECK(geti(r, IPPROTO_IP, IP_MULTICAST_ALL) == 1, "member socket: IP_MULTICAST_ALL %d, was 1", geti(r, IPPROTO_IP, IP_MULTICAST_ALL));
	CHECK(strcmp(mc_ifaddr(s), "127.0.0.1") == 0, "sender: IP_MULTICAST_IF %s, was 127.0.0.1", mc_ifaddr(s));
	CHECK(geti(s, IPPROTO_IP, IP_MULTICAST_TTL) == 4, "sender: IP_MULTICAST_TTL %d, was 4", geti(s, IPPROTO_IP, IP_MULTICAST_TTL));
	mc_send(s, "239.1.1.99", port, "notjoined");
	/* The names sort as the groups: g01, g02... */
	for (int i = 0; i < ngroups && i < 16; i++) {
		char t[16];
		snprintf(t, sizeof t, "g%02d", i + 1);
		mc_send(s, groups[i], port, t);
		if (i) strcat(want, ",");
		strcat(want, t);
	}
	const char *got = mc_collect(r, ngroups);
	CHECK(strcmp(got, want) == 0, "member socket received %s, want %s", got, want);
	got = mc_collect(g, 1);
	CHECK(strcmp(got, "g01") == 0, "socket bound to %s received %s, want g01", groups[0], got);
	got = mc_collect(n, 0);
	CHECK(strcmp(got, "") == 0, "other socket received %s, want nothing", got);
	return kobj_done();
}
