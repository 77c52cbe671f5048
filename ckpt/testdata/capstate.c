/*
 * capstate: a process with a reduced privilege state, for
 * checkpoint/restart tests. Started as root, it keeps its capabilities
 * (PR_SET_KEEPCAPS) while it becomes uid/gid 65534, drops CAP_NET_RAW,
 * CAP_SYS_BOOT and CAP_MKNOD from its bounding set, keeps only
 * CAP_NET_BIND_SERVICE (permitted, effective, inheritable and ambient),
 * sets securebits (NOROOT, locked, and NO_CAP_AMBIENT_RAISE), no_new_privs
 * and dumpable 0.
 *
 * usage: capstate OUTFILE [root]
 *
 * With "root" it stays root with all its capabilities and only drops from
 * its bounding set and sets securebits, no_new_privs and dumpable 0.
 *
 * Every 50 ms it appends one line with what /proc/self/status and prctl
 * say of that state to OUTFILE, until the file "stop" appears in its
 * working directory.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int capset3(unsigned long long prm, unsigned long long eff, unsigned long long inh) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(unsigned)eff, (unsigned)prm, (unsigned)inh},
		{(unsigned)(eff >> 32), (unsigned)(prm >> 32), (unsigned)(inh >> 32)},
	};
	return syscall(SYS_capset, &h, d);
}

static void field(const char *buf, const char *key, char *out, size_t n) {
	char k[32];
	snprintf(k, sizeof k, "\n%s:", key);
	const char *l = strstr(buf, k);
	snprintf(out, n, "?");
	if (!l)
		return;
	l += strlen(k);
	while (*l == ' ' || *l == '\t')
		l++;
	snprintf(out, n, "%.*s", (int)strcspn(l, "\n"), l);
}

#define CHECK(x) do { if ((x) != 0) { perror(#x); return 2; } } while (0)

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: capstate OUTFILE\n");
		return 2;
	}
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0) {
		perror(argv[1]);
		return 2;
	}
	const unsigned long long bind = 1ULL << CAP_NET_BIND_SERVICE, setpcap = 1ULL << CAP_SETPCAP;
	CHECK(prctl(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0));
	CHECK(prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0));
	CHECK(prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0));
	if (argc > 2 && strcmp(argv[2], "root") == 0) {
		CHECK(prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP | SECBIT_NOROOT, 0, 0, 0));
		goto rest;
	}
	CHECK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	CHECK(setgroups(0, NULL));
	CHECK(setresgid(65534, 65534, 65534));
	CHECK(setresuid(65534, 65534, 65534));
	CHECK(capset3(bind | setpcap, bind | setpcap, bind));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0));
	CHECK(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE, 0, 0, 0));
	CHECK(capset3(bind, bind, bind));
rest:
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
	struct timespec pause = {0, 50 * 1000 * 1000};
	for (;;) {
		char buf[4096];
		int fd = open("/proc/self/status", O_RDONLY);
		ssize_t got = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (got <= 0)
			return 2;
		buf[got] = 0;
		char inh[32], prm[32], eff[32], bnd[32], amb[32], nnp[32], uid[64], line[512];
		field(buf, "CapInh", inh, sizeof inh);
		field(buf, "CapPrm", prm, sizeof prm);
		field(buf, "CapEff", eff, sizeof eff);
		field(buf, "CapBnd", bnd, sizeof bnd);
		field(buf, "CapAmb", amb, sizeof amb);
		field(buf, "NoNewPrivs", nnp, sizeof nnp);
		field(buf, "Uid", uid, sizeof uid);
		int n = snprintf(line, sizeof line, "inh=%s prm=%s eff=%s bnd=%s amb=%s nnp=%s securebits=%#x dumpable=%d uid=%s\n",
			inh, prm, eff, bnd, amb, nnp, prctl(PR_GET_SECUREBITS, 0, 0, 0, 0), prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), uid);
		if (write(out, line, n) != n)
			return 2;
		if (access("stop", F_OK) == 0)
			return 0;
		nanosleep(&pause, NULL);
	}
}
