/* kobj4b_mempolicy: NUMA memory policies: the main thread's MPOL_PREFERRED
 * node 0 (set_mempolicy), a second thread's own MPOL_INTERLEAVE with
 * MPOL_F_STATIC_NODES, a region bound with mbind MPOL_BIND node 0 and one
 * MPOL_INTERLEAVE; each policy (get_mempolicy, numa_maps) is the same
 * after the restart. */
#include "kobj.h"
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_F_ADDR (1 << 1)
#define MPOL_F_STATIC_NODES (1 << 15)

static int policy(void *addr, unsigned long *nodes) {
	int mode = -1;
	*nodes = 0;
	if (syscall(SYS_get_mempolicy, &mode, nodes, 64, addr, addr ? MPOL_F_ADDR : 0)) return -1;
	return mode;
}

static const char *numa_line(void *addr) {
	static char l[512];
	char want[32];
	snprintf(want, sizeof want, "%lx ", (unsigned long)addr);
	const char *b = read_file("/proc/self/numa_maps");
	const char *p = strstr(b, want);
	l[0] = 0;
	if (p) {
		const char *e = p + strlen(want);
		snprintf(l, sizeof l, "%.*s", (int)strcspn(e, " \n"), e);
	}
	return l;
}

static pthread_barrier_t bar;
static volatile int tmode = -2;
static volatile unsigned long tnodes;
static void *run(void *a) {
	(void)a;
	unsigned long n0 = 1;
	syscall(SYS_set_mempolicy, MPOL_INTERLEAVE | MPOL_F_STATIC_NODES, &n0, 64);
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	unsigned long n;
	tmode = policy(NULL, &n);
	tnodes = n;
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	long pg = sysconf(_SC_PAGESIZE);
	unsigned long n0 = 1;
	char *a = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *b = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (syscall(SYS_set_mempolicy, MPOL_PREFERRED, &n0, 64)) DIE("set_mempolicy: %s", strerror(errno));
	if (syscall(SYS_mbind, a, 4 * pg, MPOL_BIND, &n0, 64, 0)) DIE("mbind bind: %s", strerror(errno));
	if (syscall(SYS_mbind, b, 4 * pg, MPOL_INTERLEAVE, &n0, 64, 0)) DIE("mbind interleave: %s", strerror(errno));
	memset(a, 1, 4 * pg);
	memset(b, 2, 4 * pg);
	pthread_barrier_init(&bar, NULL, 2);
	pthread_t th;
	pthread_create(&th, NULL, run, NULL);
	pthread_barrier_wait(&bar);
	char la[512], lb[512];
	snprintf(la, sizeof la, "%s", numa_line(a));
	snprintf(lb, sizeof lb, "%s", numa_line(b));
	kobj_wait();
	unsigned long nodes;
	int m = policy(NULL, &nodes);
	CHECK(m == MPOL_PREFERRED && nodes == 1, "process policy %d nodes %#lx, want %d 0x1", m, nodes, MPOL_PREFERRED);
	m = policy(a, &nodes);
	CHECK(m == MPOL_BIND && nodes == 1, "bound region policy %d nodes %#lx", m, nodes);
	m = policy(b, &nodes);
	CHECK(m == MPOL_INTERLEAVE && nodes == 1, "interleaved region policy %d nodes %#lx", m, nodes);
	CHECK(strcmp(numa_line(a), la) == 0, "numa_maps %s, want %s", numa_line(a), la);
	CHECK(strcmp(numa_line(b), lb) == 0, "numa_maps %s, want %s", numa_line(b), lb);
	CHECK(a[0] == 1 && b[4 * pg - 1] == 2, "bytes lost");
	pthread_barrier_wait(&bar);
	pthread_join(th, NULL);
	CHECK(tmode == (MPOL_INTERLEAVE | MPOL_F_STATIC_NODES) && tnodes == 1, "thread policy %#x nodes %#lx, want %#x 0x1", tmode, tnodes, MPOL_INTERLEAVE | MPOL_F_STATIC_NODES);
	return kobj_done();
}
