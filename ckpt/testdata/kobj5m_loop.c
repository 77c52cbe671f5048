/* kobj5m_loop: a UDP socket joined to 239.4.4.4 on mc0 (one end of a veth
 * pair: a datagram sent there comes back to the sender's host only by
 * IP_MULTICAST_LOOP) and two senders on mc0 (by address), loop on and
 * loop off: the member receives the first's datagram, not the second's.
 * The test may make mc0 again before the restart (another index) or
 * remove it (the restart must fail naming it). */
#include "kobj5m.h"

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int port = 0;
	int r = mc_receiver(AF_INET, &port);
	mc_join(r, "mc0", "239.4.4.4");
	int on = mc_sender4("10.77.0.1", "10.77.0.1", 1), off = mc_sender4("10.77.0.1", "10.77.0.1", 0);
	kobj_wait();
	const char *f = mc_filter(r, "mc0", "239.4.4.4");
	CHECK(strcmp(f, "exclude") == 0, "member socket: filter %s on mc0 (index %d), was exclude", f, if_nametoindex("mc0"));
	CHECK(geti(on, IPPROTO_IP, IP_MULTICAST_LOOP) == 1, "sender: IP_MULTICAST_LOOP %d, was 1", geti(on, IPPROTO_IP, IP_MULTICAST_LOOP));
	CHECK(geti(off, IPPROTO_IP, IP_MULTICAST_LOOP) == 0, "sender: IP_MULTICAST_LOOP %d, was 0", geti(off, IPPROTO_IP, IP_MULTICAST_LOOP));
	CHECK(strcmp(mc_ifaddr(off), "10.77.0.1") == 0, "sender: IP_MULTICAST_IF %s, was 10.77.0.1", mc_ifaddr(off));
	mc_send(off, "239.4.4.4", port, "off");
	mc_send(on, "239.4.4.4", port, "on");
	const char *got = mc_collect(r, 1);
	CHECK(strcmp(got, "on") == 0, "member socket received %s, want on", got);
	return kobj_done();
}
