/* A UTS namespace of its own with a hostname and domain name set. */
#include "kobj.h"
#include <sched.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (unshare(CLONE_NEWUTS)) DIE("unshare: %s", strerror(errno));
	sethostname("kobj-host", 9);
	setdomainname("kobj-domain", 11);
	kobj_wait();
	char h[64] = {0}, d[64] = {0};
	gethostname(h, sizeof h);
	getdomainname(d, sizeof d);
	CHECK(strcmp(h, "kobj-host") == 0 && strcmp(d, "kobj-domain") == 0, "hostname %s domain %s", h, d);
	return kobj_done();
}
