/*
 * incr: memory that changes by known fractions between checkpoints, for
 * the incremental checkpoint tests.
 *
 * usage: incr MIB OUTFILE [EVENT]
 *
 * MIB MiB of private anonymous memory and a heap block, every page filled
 * with a pattern of its index and the step that last wrote it. It waits
 * in sigsuspend for:
 *   SIGUSR1: a step: one page in 20 rewritten (another set each step),
 *            then "step N" to OUTFILE;
 *   SIGUSR2: "sum N HEX": a hash of every page of both;
 *   SIGHUP:  EVENT, then "event EVENT":
 *     closeall  close every descriptor but OUTFILE's;
 *     remap     munmap the region, map it again at the same address, and
 *               rewrite every other page (the rest are zero now);
 *     dontneed  MADV_DONTNEED one page in 7 (zero now);
 *     fork      fork a child that waits for its end;
 *     mremap    move the region away and back (same content);
 *     read      read(2) into 16 pages from /proc/self/cmdline (writes by
 *               the kernel).
 * OUTFILE is opened O_APPEND: every line is at its end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t want_step, want_sum, want_event;
static void on_usr1(int s) { (void)s; want_step = 1; }
static void on_usr2(int s) { (void)s; want_sum = 1; }
static void on_hup(int s) { (void)s; want_event = 1; }

static uint64_t *region, *heap;
static size_t size, pages;
static int step, out;
#define HEAPWORDS (48 << 10) / 8

static void fill(size_t i, uint64_t tag) {
	uint64_t *w = region + i * 512;
	for (int j = 0; j < 512; j++)
		w[j] = ((uint64_t)i << 32) ^ (tag << 12) ^ (uint64_t)j;
}

static int chosen(size_t i, int s) { return (uint32_t)(i * 2654435761u + (uint32_t)s * 40503u) % 20 == 0; }

/* sum hashes every word; a page not in memory (mincore: dropped, never
 * touched; there is no swap here) is hashed as zeros without touching it,
 * so that it stays out of memory for the next checkpoint. */
static uint64_t sum(void) {
	static unsigned char *in;
	if (!in && !(in = malloc(pages)))
		exit(1);
	if (mincore(region, size, in) != 0)
		exit(1);
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < pages; i++)
		for (size_t k = i * 512; k < (i + 1) * 512; k++)
			h = (h ^ ((in[i] & 1) ? region[k] : 0)) * 1099511628211ull;
	for (size_t k = 0; k < HEAPWORDS; k++)
		h = (h ^ heap[k]) * 1099511628211ull;
	return h;
}

static void event(const char *ev) {
	if (!strcmp(ev, "closeall")) {
		syscall(SYS_close_range, out + 1, ~0U, 0);
	} else if (!strcmp(ev, "remap")) {
		munmap(region, size);
		if (mmap(region, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != region)
			exit(1);
		for (size_t i = 0; i < pages; i += 2)
			fill(i, 1000 + step);
	} else if (!strcmp(ev, "dontneed")) {
		for (size_t i = 3; i < pages; i += 7)
			madvise((char *)region + i * 4096, 4096, MADV_DONTNEED);
	} else if (!strcmp(ev, "fork")) {
		if (fork() == 0) {
			for (;;)
				pause();
		}
	} else if (!strcmp(ev, "mremap")) {
		void *q = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q == MAP_FAILED || mremap(region, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, q) != q ||
		    mremap(q, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, region) != region)
			exit(1);
	} else if (!strcmp(ev, "read")) {
		for (size_t i = 5; i < pages && i < 5 + 16 * 9; i += 9) {
			int fd = open("/proc/self/cmdline", O_RDONLY);
			if (fd < 0 || read(fd, (char *)region + i * 4096 + 100, 64) <= 0)
				exit(1);
			close(fd);
		}
	}
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	size = (size_t)atol(argv[1]) << 20;
	pages = size / 4096;
	region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	heap = malloc(HEAPWORDS * 8);
	if (region == MAP_FAILED || !heap)
		return 1;
	out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0)
		return 1;
	for (size_t i = 0; i < pages; i++)
		fill(i, 0);
	for (size_t k = 0; k < HEAPWORDS; k++)
		heap[k] = k;
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	signal(SIGHUP, on_hup);
	dprintf(out, "ready %d\n", getpid());
	for (;;) {
		while (!want_step && !want_sum && !want_event)
			sigsuspend(&old);
		if (want_step) {
			want_step = 0;
			step++;
			for (size_t i = 0; i < pages; i++)
				if (chosen(i, step))
					fill(i, step);
			heap[step % HEAPWORDS] = step;
			dprintf(out, "step %d\n", step);
		}
		if (want_event) {
			want_event = 0;
			event(argc > 3 ? argv[3] : "");
			dprintf(out, "event %s\n", argc > 3 ? argv[3] : "");
		}
		if (want_sum) {
			want_sum = 0;
			dprintf(out, "sum %d %016llx\n", step, (unsigned long long)sum());
		}
	}
}
