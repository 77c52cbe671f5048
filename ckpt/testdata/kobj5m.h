/* kobj5m.h: multicast helpers of the kobj5m_*.c programs (kobj5m_test.go
 * runs them in a network namespace of their own, with lo up and a veth
 * pair mc0 (10.77.0.1, IPv6 link-local) - mc1). */
#include "kobj.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

__attribute__((unused)) static void seti(int s, int lvl, int opt, int v) {
	if (setsockopt(s, lvl, opt, &v, sizeof v)) kobj_fail("setsockopt %d/%d: %s", lvl, opt, strerror(errno));
}
__attribute__((unused)) static int geti(int s, int lvl, int opt) { int v = -1; socklen_t l = sizeof v; getsockopt(s, lvl, opt, &v, &l); return v; }

__attribute__((unused)) static struct sockaddr_storage mc_addr(const char *ip, int port) {
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *a = (void *)&ss;
	struct sockaddr_in6 *a6 = (void *)&ss;
	if (inet_pton(AF_INET, ip, &a->sin_addr) == 1) {
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
	} else
		DIE("address %s", ip);
	return ss;
}

__attribute__((unused)) static socklen_t mc_len(const struct sockaddr_storage *ss) {
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* mc_receiver: a UDP socket of family bound to the wildcard address at
 * *port (0: any, then set), sharing it (SO_REUSEADDR). */
__attribute__((unused)) static int mc_receiver(int family, int *port) {
	int s = socket(family, SOCK_DGRAM, 0);
	seti(s, SOL_SOCKET, SO_REUSEADDR, 1);
	struct sockaddr_storage a = mc_addr(family == AF_INET ? "0.0.0.0" : "::", *port);
	if (bind(s, (void *)&a, mc_len(&a))) DIE("bind port %d: %s", *port, strerror(errno));
	socklen_t l = sizeof a;
	getsockname(s, (void *)&a, &l);
	*port = ntohs(((struct sockaddr_in *)&a)->sin_port);
	return s;
}

/* mc_join: MCAST_JOIN_GROUP of group on interface ifname. */
__attribute__((unused)) static void mc_join(int s, const char *ifname, const char *group) {
	struct group_req r = {.gr_interface = if_nametoindex(ifname)};
	r.gr_group = mc_addr(group, 0);
	int lvl = r.gr_group.ss_family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	if (setsockopt(s, lvl, MCAST_JOIN_GROUP, &r, sizeof r)) kobj_fail("join %s on %s: %s", group, ifname, strerror(errno));
}

/* mc_send: sends text from s to group:port. */
__attribute__((unused)) static void mc_send(int s, const char *group, int port, const char *text) {
	struct sockaddr_storage a = mc_addr(group, port);
	if (sendto(s, text, strlen(text), 0, (void *)&a, mc_len(&a)) < 0) kobj_fail("send %s to %s: %s", text, group, strerror(errno));
}

static int mc_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

__attribute__((unused)) static long mc_now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* mc_collect: the datagrams s receives, sorted and joined by commas: it
 * waits (generously) for want of them, then 200 ms for any more (which a
 * wrong membership or filter would let in). */
__attribute__((unused)) static const char *mc_collect(int s, int want) {
	static char out[1024], texts[64][32];
	char *p[64];
	int n = 0;
	long settle = -1, deadline = mc_now() + 10000;
	while (n < 64) {
		long now = mc_now();
		if (n >= want && settle < 0) settle = now + 200;
		long until = settle >= 0 ? settle : deadline;
		if (now >= until) break;
		struct pollfd pf = {s, POLLIN, 0};
		if (poll(&pf, 1, (int)(until - now)) <= 0) continue;
		ssize_t k = recv(s, texts[n], sizeof texts[n] - 1, MSG_DONTWAIT);
		if (k < 0) continue;
		texts[n][k] = 0;
		p[n] = texts[n];
		n++;
	}
	qsort(p, n, sizeof p[0], mc_cmp);
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		if (i) strcat(out, ",");
		strcat(out, p[i]);
	}
	return out;
}

/* mc_filter: the filter of s for group on ifname (getsockopt
 * MCAST_MSFILTER), as "exclude" or "include" and its sources sorted, e.g.
 * "include 127.0.0.2 127.0.0.4", or "none" when s is not a member. */
__attribute__((unused)) static const char *mc_filter(int s, const char *ifname, const char *group) {
	static char out[1024];
	char buf[GROUP_FILTER_SIZE(16)];
	struct group_filter *gf = (void *)buf;
	memset(buf, 0, sizeof buf);
	gf->gf_interface = if_nametoindex(ifname);
	gf->gf_group = mc_addr(group, 0);
	gf->gf_numsrc = 16;
	socklen_t l = sizeof buf;
	int lvl = gf->gf_group.ss_family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	if (getsockopt(s, lvl, MCAST_MSFILTER, gf, &l)) {
		snprintf(out, sizeof out, errno == EADDRNOTAVAIL ? "none" : "error %s", strerror(errno));
		return out;
	}
	char srcs[16][INET6_ADDRSTRLEN];
	char *p[16];
	unsigned n = gf->gf_numsrc < 16 ? gf->gf_numsrc : 16;
	for (unsigned i = 0; i < n; i++) {
		struct sockaddr_storage *ss = &gf->gf_slist[i];
		if (ss->ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, srcs[i], sizeof srcs[i]);
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, srcs[i], sizeof srcs[i]);
		p[i] = srcs[i];
	}
	qsort(p, n, sizeof p[0], mc_cmp);
	strcpy(out, gf->gf_fmode == MCAST_INCLUDE ? "include" : "exclude");
	for (unsigned i = 0; i < n; i++) {
		strcat(out, " ");
		strcat(out, p[i]);
	}
	return out;
}

/* mc_sender4: an IPv4 UDP socket bound to src, sending by the interface
 * of address ifaddr (IP_MULTICAST_IF), with IP_MULTICAST_LOOP loop. */
__attribute__((unused)) static int mc_sender4(const char *src, const char *ifaddr, int loop) {
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_storage a = mc_addr(src, 0);
	if (bind(s, (void *)&a, mc_len(&a))) DIE("bind %s: %s", src, strerror(errno));
	struct in_addr ia;
	inet_pton(AF_INET, ifaddr, &ia);
	if (setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &ia, sizeof ia)) DIE("IP_MULTICAST_IF %s: %s", ifaddr, strerror(errno));
	seti(s, IPPROTO_IP, IP_MULTICAST_LOOP, loop);
	return s;
}

/* mc_ifaddr: IP_MULTICAST_IF of s as text. */
__attribute__((unused)) static const char *mc_ifaddr(int s) {
	static char out[INET_ADDRSTRLEN];
	struct in_addr ia = {0};
	socklen_t l = sizeof ia;
	getsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &ia, &l);
	inet_ntop(AF_INET, &ia, out, sizeof out);
	return out;
}
