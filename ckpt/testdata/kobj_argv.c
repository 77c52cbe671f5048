/* argv rewritten in place (setproctitle), environment changed, auxv: the
 * process's /proc cmdline, environ and auxv are as they were. */
#include "kobj.h"

extern char **environ;

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	setenv("KOBJ_ADDED", "a value set by the program", 1);
	/* Rewrite argv[1]'s bytes: /proc/PID/cmdline reads them. */
	size_t n = strlen(argv[1]);
	static char out[4096];
	snprintf(out, sizeof out, "%s", argv[1]);
	kobj_out = out;
	memset(argv[1], 'Z', n);
	char cmdline[8192], env[65536], auxv[4096];
	snprintf(cmdline, sizeof cmdline, "%s", read_file("/proc/self/cmdline"));
	FILE *f = fopen("/proc/self/environ", "r");
	size_t ne = fread(env, 1, sizeof env, f);
	fclose(f);
	f = fopen("/proc/self/auxv", "r");
	size_t na = fread(auxv, 1, sizeof auxv, f);
	fclose(f);
	char stat1[1024];
	snprintf(stat1, sizeof stat1, "%s", read_file("/proc/self/stat"));
	kobj_wait();
	CHECK(strcmp(read_file("/proc/self/cmdline"), cmdline) == 0, "cmdline %s", read_file("/proc/self/cmdline"));
	char e2[65536], a2[4096];
	f = fopen("/proc/self/environ", "r");
	size_t ne2 = fread(e2, 1, sizeof e2, f);
	fclose(f);
	CHECK(ne2 == ne && memcmp(e2, env, ne) == 0, "environ differs (%zu bytes, were %zu)", ne2, ne);
	f = fopen("/proc/self/auxv", "r");
	size_t na2 = fread(a2, 1, sizeof a2, f);
	fclose(f);
	CHECK(na2 == na && memcmp(a2, auxv, na) == 0, "auxv differs");
	CHECK(strcmp(getenv("KOBJ_ADDED"), "a value set by the program") == 0, "getenv");
	/* Fields 26-28 (start/end code, start stack) and 45-51 (data, brk, args, env). */
	const char *s1 = strrchr(stat1, ')'), *s2 = strrchr(read_file("/proc/self/stat"), ')');
	char a[1024], b[1024];
	snprintf(a, sizeof a, "%s", s1);
	snprintf(b, sizeof b, "%s", s2);
	char *fa[64], *fb[64];
	int k = 0;
	for (char *t = strtok(a, " "); t && k < 64; t = strtok(NULL, " ")) fa[k++] = t;
	int j = 0;
	for (char *t = strtok(b, " "); t && j < 64; t = strtok(NULL, " ")) fb[j++] = t;
	int idx[] = {24, 25, 26, 43, 44, 45, 46, 47, 48, 49};
	for (int i = 0; i < 10; i++)
		if (idx[i] < k && idx[i] < j) CHECK(strcmp(fa[idx[i]], fb[idx[i]]) == 0, "stat field %d: %s, was %s", idx[i] + 2, fb[idx[i]], fa[idx[i]]);
	return kobj_done();
}
