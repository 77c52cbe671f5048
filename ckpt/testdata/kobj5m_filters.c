/* kobj5m_filters: source filters on lo. One socket joined source-specific
 * (IP_ADD_SOURCE_MEMBERSHIP twice: INCLUDE 127.0.0.2 and 127.0.0.4),
 * another joined to any source but 127.0.0.3 (MCAST_JOIN_GROUP, then
 * MCAST_BLOCK_SOURCE: EXCLUDE 127.0.0.3); senders at 127.0.0.2, .3 and .4
 * send to both groups, and each socket receives only what its filter
 * lets in. */
#include "kobj5m.h"

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int pin = 0, pex = 0;
	int in = mc_receiver(AF_INET, &pin), ex = mc_receiver(AF_INET, &pex);
	const char *gin = "239.2.2.2", *gex = "239.3.3.3";
	for (int i = 0; i < 2; i++) {
		struct ip_mreq_source m;
		memset(&m, 0, sizeof m);
		inet_pton(AF_INET, gin, &m.imr_multiaddr);
		inet_pton(AF_INET, "127.0.0.1", &m.imr_interface);
		inet_pton(AF_INET, i ? "127.0.0.4" : "127.0.0.2", &m.imr_sourceaddr);
		if (setsockopt(in, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &m, sizeof m)) DIE("IP_ADD_SOURCE_MEMBERSHIP: %s", strerror(errno));
	}
	mc_join(ex, "lo", gex);
	struct group_source_req b = {.gsr_interface = if_nametoindex("lo")};
	b.gsr_group = mc_addr(gex, 0);
	b.gsr_source = mc_addr("127.0.0.3", 0);
	if (setsockopt(ex, IPPROTO_IP, MCAST_BLOCK_SOURCE, &b, sizeof b)) DIE("MCAST_BLOCK_SOURCE: %s", strerror(errno));
	int s[3];
	for (int i = 0; i < 3; i++) {
		char src[16];
		snprintf(src, sizeof src, "127.0.0.%d", i + 2);
		s[i] = mc_sender4(src, "127.0.0.1", 1);
	}
	kobj_wait();
	const char *f = mc_filter(in, "lo", gin);
	CHECK(strcmp(f, "include 127.0.0.2 127.0.0.4") == 0, "INCLUDE socket: filter %s, was include 127.0.0.2 127.0.0.4", f);
	f = mc_filter(ex, "lo", gex);
	CHECK(strcmp(f, "exclude 127.0.0.3") == 0, "EXCLUDE socket: filter %s, was exclude 127.0.0.3", f);
	for (int i = 0; i < 3; i++) {
		char t[8];
		snprintf(t, sizeof t, "from%d", i + 2);
		mc_send(s[i], gin, pin, t);
		mc_send(s[i], gex, pex, t);
	}
	const char *got = mc_collect(in, 2);
	CHECK(strcmp(got, "from2,from4") == 0, "INCLUDE socket received %s, want from2,from4", got);
	got = mc_collect(ex, 2);
	CHECK(strcmp(got, "from2,from4") == 0, "EXCLUDE socket received %s, want from2,from4", got);
	return kobj_done();
}
