/* kobj4b_mmargs: the process moved its argument and environment areas
 * to a page of its own (prctl PR_SET_MM_MAP): /proc/self/cmdline and
 * /proc/self/environ show the new text, and the mm fields of
 * /proc/self/stat (arg_start..env_end) are the same after the restart. */
#include "kobj.h"
#include <linux/prctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>

static unsigned long stat_field(int n) {
	const char *b = read_file("/proc/self/stat");
	const char *p = strrchr(b, ')');
	for (int i = 2; p && i < n; i++) p = strchr(p + 1, ' ');
	return p ? strtoul(p + 1, NULL, 10) : 0;
}

static const char text[] = "moved-argv\0second arg\0";
static const char env[] = "A=1\0MOVED_ENV=yes\0";

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	char *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(pg, text, sizeof text - 1);
	memcpy(pg + 2048, env, sizeof env - 1);
	struct prctl_mm_map m = {
		.start_code = stat_field(26), .end_code = stat_field(27), .start_stack = stat_field(28),
		.start_data = stat_field(45), .end_data = stat_field(46), .start_brk = stat_field(47),
		.brk = (unsigned long)sbrk(0),
		.arg_start = (unsigned long)pg, .arg_end = (unsigned long)pg + sizeof text - 1,
		.env_start = (unsigned long)pg + 2048, .env_end = (unsigned long)pg + 2048 + sizeof env - 1,
		.exe_fd = -1,
	};
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof m, 0)) DIE("PR_SET_MM_MAP: %s", strerror(errno));
	unsigned long f[4];
	for (int i = 0; i < 4; i++) f[i] = stat_field(48 + i);
	if (f[0] != m.arg_start) DIE("arg_start %#lx, want %#lx", f[0], (unsigned long)m.arg_start);
	kobj_wait();
	for (int i = 0; i < 4; i++) CHECK(stat_field(48 + i) == f[i], "stat field %d %#lx, want %#lx", 48 + i, stat_field(48 + i), f[i]);
	FILE *c = fopen("/proc/self/cmdline", "r");
	char buf[256];
	size_t n = fread(buf, 1, sizeof buf, c);
	fclose(c);
	CHECK(n == sizeof text - 1 && memcmp(buf, text, n) == 0, "cmdline %zu bytes: %.*s", n, (int)n, buf);
	c = fopen("/proc/self/environ", "r");
	n = fread(buf, 1, sizeof buf, c);
	fclose(c);
	CHECK(n == sizeof env - 1 && memcmp(buf, env, n) == 0, "environ %zu bytes: %.*s", n, (int)n, buf);
	return kobj_done();
}
