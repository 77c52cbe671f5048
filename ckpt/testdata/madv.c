/*
 * madv: memory regions with madvise flags and a read-only file mapping
 * made writable, for checkpoint/restart tests.
 *
 * usage: madv OUTFILE DATAFILE [droppable]
 *
 * Maps five anonymous regions of 4 pages, each with one advice:
 * MADV_DONTFORK (VmFlags dc), MADV_WIPEONFORK (wf), MADV_DONTDUMP (dd),
 * MADV_NOHUGEPAGE (nh), mlock (lo); two of 16 MiB, one without advice
 * (large) and one with MADV_HUGEPAGE (hg); with "droppable" a MAP_DROPPABLE one
 * (dp); and DATAFILE, opened O_RDONLY, mapped PROT_READ MAP_PRIVATE, then
 * mprotect'ed PROT_READ|PROT_WRITE and written to ("X" at offset 0).
 *
 * It writes one line per region, "NAME: VmFlags-of-interest content",
 * then "fork: ..." saying what a forked child sees (the dontfork region
 * gone, the wipeonfork one zero), once when ready and then every 50 ms
 * after "go" appears in its working directory, until "stop" appears.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

#define PAGES 4

static FILE *out;

struct reg {
	const char *name;
	char *addr;
};

static struct reg regs[16];
static int nregs;

static int exists(const char *p) {
	struct stat st;
	return stat(p, &st) == 0;
}

/* flags writes the VmFlags of the region at addr that the test cares for. */
static void flags(char *addr, char *buf, size_t n) {
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	snprintf(buf, n, "?");
	while (fgets(line, sizeof line, f)) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = s <= (unsigned long)addr && (unsigned long)addr < e;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			static const char *want[] = {"dc", "wf", "dd", "nh", "hg", "lo", "dp", "wr", NULL};
			buf[0] = 0;
			for (int i = 0; want[i]; i++) {
				char k[8];
				snprintf(k, sizeof k, " %s", want[i]);
				char *p = strstr(line + 8, k);
				if (p && (p[3] == ' ' || p[3] == '\n')) {
					strncat(buf, want[i], n - strlen(buf) - 1);
					strncat(buf, ",", n - strlen(buf) - 1);
				}
			}
			break;
		}
	}
	fclose(f);
}

static void report(void) {
	char buf[128];
	for (int i = 0; i < nregs; i++) {
		flags(regs[i].addr, buf, sizeof buf);
		fprintf(out, "%s: %s %c\n", regs[i].name, buf, regs[i].addr[0]);
	}
	/* A child: the dontfork region is not mapped in it, the wipeonfork
	 * one reads zero. */
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		char r[64];
		int gone = msync(regs[0].addr, 4096, MS_ASYNC) != 0;
		snprintf(r, sizeof r, "dontfork-gone=%d wipeonfork=%d", gone, regs[1].addr[0]);
		write(p[1], r, strlen(r));
		_exit(0);
	}
	close(p[1]);
	char r[64] = {0};
	read(p[0], r, sizeof r - 1);
	close(p[0]);
	waitpid(c, NULL, 0);
	fprintf(out, "fork: %s\n", r);
	fflush(out);
}

static char *anon_pages(const char *name, int advice, int extra, size_t pages) {
	int type = extra ? extra : MAP_PRIVATE; /* MAP_DROPPABLE is a type of its own */
	char *a = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, type | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		perror(name);
		exit(2);
	}
	memset(a, name[0], pages * 4096);
	if (advice >= 0 && madvise(a, pages * 4096, advice) != 0) {
		perror(name);
		exit(2);
	}
	regs[nregs].name = name;
	regs[nregs++].addr = a;
	return a;
}

static char *anon(const char *name, int advice, int extra) {
	return anon_pages(name, advice, extra, PAGES);
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: madv OUTFILE DATAFILE\n");
		return 2;
	}
	out = fopen(argv[1], "a");
	anon("dontfork", MADV_DONTFORK, 0);
	anon("wipeonfork", MADV_WIPEONFORK, 0);
	anon("dontdump", MADV_DONTDUMP, 0);
	anon("nohugepage", MADV_NOHUGEPAGE, 0);
	/* Large regions: a restore must not give one huge pages (hg) that it
	 * did not have, nor take them from one that had. */
	anon_pages("large", -1, 0, 4096);
	anon_pages("hugepage", MADV_HUGEPAGE, 0, 4096);
	char *l = anon("locked", -1, 0);
	if (mlock(l, PAGES * 4096) != 0) {
		perror("mlock");
		return 2;
	}
	int fd = open(argv[2], O_RDONLY);
	char *f = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f == MAP_FAILED || mprotect(f, 4096, PROT_READ | PROT_WRITE) != 0) {
		perror("file mapping");
		return 2;
	}
	close(fd);
	f[0] = 'X';
	regs[nregs].name = "file";
	regs[nregs++].addr = f;
	if (argc > 3)
		anon("droppable", -1, MAP_DROPPABLE);
	report();
	while (!exists("go")) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	while (!exists("stop")) {
		report();
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}
