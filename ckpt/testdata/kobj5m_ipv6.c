/* kobj5m_ipv6: an IPv6 UDP socket joined to ff15::101 on mc0
 * (IPV6_JOIN_GROUP) with a source blocked (EXCLUDE fe80::dead), to
 * ff35::303 on mc0 from two sources only (MCAST_JOIN_SOURCE_GROUP twice:
 * INCLUDE fe80::1 fe80::2), to ff15::202 on lo (a membership only: lo does
 * not carry IPv6 multicast datagrams here) and, as a dual-stack socket, to
 * the IPv4 group 239.6.6.6 on lo; a second socket on its port is a member
 * of none (IPV6_MULTICAST_ALL and IP_MULTICAST_ALL off); the IPv6 sender
 * chooses mc0 (IPV6_MULTICAST_IF) with IPV6_MULTICAST_HOPS 5. */
#include "kobj5m.h"

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int port = 0;
	int r = mc_receiver(AF_INET6, &port), n = mc_receiver(AF_INET6, &port);
	seti(n, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0);
	seti(n, IPPROTO_IP, IP_MULTICAST_ALL, 0);
	const char *g6 = "ff15::101", *g4 = "239.6.6.6";
	struct ipv6_mreq j6 = {.ipv6mr_interface = if_nametoindex("mc0")};
	inet_pton(AF_INET6, g6, &j6.ipv6mr_multiaddr);
	if (setsockopt(r, IPPROTO_IPV6, IPV6_JOIN_GROUP, &j6, sizeof j6)) DIE("IPV6_JOIN_GROUP: %s", strerror(errno));
	struct group_source_req b = {.gsr_interface = if_nametoindex("mc0")};
	b.gsr_group = mc_addr(g6, 0);
	b.gsr_source = mc_addr("fe80::dead", 0);
	if (setsockopt(r, IPPROTO_IPV6, MCAST_BLOCK_SOURCE, &b, sizeof b)) DIE("MCAST_BLOCK_SOURCE: %s", strerror(errno));
	mc_join(r, "lo", g4);
	mc_join(r, "lo", "ff15::202");
	for (int i = 0; i < 2; i++) {
		struct group_source_req j = {.gsr_interface = if_nametoindex("mc0")};
		j.gsr_group = mc_addr("ff35::303", 0);
		j.gsr_source = mc_addr(i ? "fe80::2" : "fe80::1", 0);
		if (setsockopt(r, IPPROTO_IPV6, MCAST_JOIN_SOURCE_GROUP, &j, sizeof j)) DIE("MCAST_JOIN_SOURCE_GROUP: %s", strerror(errno));
	}
	int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	seti(s6, IPPROTO_IPV6, IPV6_MULTICAST_IF, if_nametoindex("mc0"));
	seti(s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 5);
	int s4 = mc_sender4("127.0.0.1", "127.0.0.1", 1);
	kobj_wait();
	const char *f = mc_filter(r, "mc0", g6);
	CHECK(strcmp(f, "exclude fe80::dead") == 0, "member socket, %s: filter %s, was exclude fe80::dead", g6, f);
	f = mc_filter(r, "mc0", "ff35::303");
	CHECK(strcmp(f, "include fe80::1 fe80::2") == 0, "member socket, ff35::303: filter %s, was include fe80::1 fe80::2", f);
	f = mc_filter(r, "lo", "ff15::202");
	CHECK(strcmp(f, "exclude") == 0, "member socket, ff15::202 on lo: filter %s, was exclude", f);
	f = mc_filter(r, "mc0", "ff15::202");
	CHECK(strcmp(f, "none") == 0, "member socket, ff15::202 on mc0: filter %s, was none", f);
	f = mc_filter(r, "lo", g4);
	CHECK(strcmp(f, "exclude") == 0, "member socket, %s: filter %s, was exclude", g4, f);
	f = mc_filter(n, "mc0", g6);
	CHECK(strcmp(f, "none") == 0, "other socket, %s: filter %s, was none", g6, f);
	f = mc_filter(n, "lo", g4);
	CHECK(strcmp(f, "none") == 0, "other socket, %s: filter %s, was none", g4, f);
	CHECK(geti(n, IPPROTO_IPV6, IPV6_MULTICAST_ALL) == 0, "other socket: IPV6_MULTICAST_ALL %d, was 0", geti(n, IPPROTO_IPV6, IPV6_MULTICAST_ALL));
	CHECK(geti(n, IPPROTO_IP, IP_MULTICAST_ALL) == 0, "other socket: IP_MULTICAST_ALL %d, was 0", geti(n, IPPROTO_IP, IP_MULTICAST_ALL));
	CHECK(geti(s6, IPPROTO_IPV6, IPV6_MULTICAST_IF) == (int)if_nametoindex("mc0"), "sender: IPV6_MULTICAST_IF %d, mc0 is %d", geti(s6, IPPROTO_IPV6, IPV6_MULTICAST_IF), if_nametoindex("mc0"));
	CHECK(geti(s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS) == 5, "sender: IPV6_MULTICAST_HOPS %d, was 5", geti(s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS));
	mc_send(s6, g6, port, "v6");
	mc_send(s4, g4, port, "v4");
	const char *got = mc_collect(r, 2);
	CHECK(strcmp(got, "v4,v6") == 0, "member socket received %s, want v4,v6", got);
	got = mc_collect(n, 0);
	CHECK(strcmp(got, "") == 0, "other socket received %s, want nothing", got);
	return kobj_done();
}
