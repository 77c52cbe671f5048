/* kobj4a_netlink: a NETLINK_ROUTE socket bound with a port id of the
 * kernel's choosing and subscribed to RTMGRP_LINK. The kernel side of a
 * netlink socket (its port id, groups, queued notifications) is not
 * something the restart can make again: refused, and the socket left
 * running still answers a dump request. */
#include "kobj.h"
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	struct sockaddr_nl a = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
	if (s < 0 || bind(s, (void *)&a, sizeof a)) DIE("netlink: %s", strerror(errno));
	socklen_t al = sizeof a;
	getsockname(s, (void *)&a, &al);
	kobj_wait();
	struct sockaddr_nl g;
	socklen_t gl = sizeof g;
	getsockname(s, (void *)&g, &gl);
	CHECK(g.nl_pid == a.nl_pid && g.nl_groups == RTMGRP_LINK, "port id %u groups %#x, were %u %#x", g.nl_pid, g.nl_groups, a.nl_pid, a.nl_groups);
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
	} req = {.h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1}, .g = {.rtgen_family = AF_UNSPEC}};
	CHECK(send(s, &req, sizeof req, 0) == sizeof req, "send: %s", strerror(errno));
	char buf[16384];
	ssize_t n = recv(s, buf, sizeof buf, 0);
	CHECK(n > (ssize_t)sizeof(struct nlmsghdr) && ((struct nlmsghdr *)buf)->nlmsg_seq == 1, "dump answer: %zd", n);
	return kobj_done();
}
