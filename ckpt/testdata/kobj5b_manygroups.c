/* kobj5b_manygroups: 300 supplementary groups, given out of order and
 * with large ids (up to 4000000000). After the restart getgroups gives
 * the same list in the same order. */
#include "kobj.h"
#include <grp.h>

#define NG 300
int main(int argc, char **argv) {
	kobj_init(argc, argv);
	gid_t g[NG];
	for (int i = 0; i < NG; i++) g[i] = (gid_t)((i * 7919u) % 4000000000u) + (i % 3 ? 3000000000u : 5);
	if (setgroups(NG, g)) DIE("setgroups: %s", strerror(errno));
	gid_t before[NG + 1];
	int n0 = getgroups(NG + 1, before);
	kobj_wait();
	gid_t now[NG + 1];
	int n = getgroups(NG + 1, now);
	CHECK(n == n0 && !memcmp(now, before, n * sizeof(gid_t)), "getgroups: %d groups, were %d, or in another order", n, n0);
	return kobj_done();
}
