/* A user namespace of its own with uid and gid maps (root inside is
 * uid 0 outside): refused at checkpoint time unless the engine makes it. */
#include "kobj.h"
#include <sched.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (unshare(CLONE_NEWUSER)) DIE("unshare: %s", strerror(errno));
	FILE *f = fopen("/proc/self/setgroups", "w");
	if (f) { fputs("deny", f); fclose(f); }
	f = fopen("/proc/self/uid_map", "w");
	if (!f || fprintf(f, "0 0 1\n") < 0 || fclose(f)) DIE("uid_map: %s", strerror(errno));
	f = fopen("/proc/self/gid_map", "w");
	if (!f || fprintf(f, "0 0 1\n") < 0 || fclose(f)) DIE("gid_map: %s", strerror(errno));
	char map[256];
	snprintf(map, sizeof map, "%s", read_file("/proc/self/uid_map"));
	kobj_wait();
	CHECK(strcmp(read_file("/proc/self/uid_map"), map) == 0, "uid_map %s, was %s", read_file("/proc/self/uid_map"), map);
	CHECK(strstr(read_file("/proc/self/setgroups"), "deny") != NULL, "setgroups %s", read_file("/proc/self/setgroups"));
	return kobj_done();
}
