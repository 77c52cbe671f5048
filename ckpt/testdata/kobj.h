/* kobj.h: the frame of the kobj_*.c programs (kobj_test.go). Each sets up
 * one kernel object, creates OUT.ready, waits for SIGUSR1 in sigsuspend
 * (blocked until then, so none is lost), checks the object exactly and
 * writes "ok" or what differs to OUT, exiting 0 or 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *kobj_out;
static char kobj_msg[16384];
static int kobj_bad;
static volatile sig_atomic_t kobj_go;
static sigset_t kobj_old; /* the mask before kobj_init, SIGUSR1 apart */

static void kobj_onusr1(int s) { (void)s; kobj_go = 1; }

static void kobj_fail(const char *fmt, ...) {
	va_list ap;
	size_t n = strlen(kobj_msg);
	if (n + 2 >= sizeof kobj_msg) return;
	va_start(ap, fmt);
	vsnprintf(kobj_msg + n, sizeof kobj_msg - n - 1, fmt, ap);
	va_end(ap);
	strcat(kobj_msg, "; ");
	kobj_bad = 1;
}

#define CHECK(cond, ...) do { if (!(cond)) kobj_fail(__VA_ARGS__); } while (0)
#define DIE(...) do { kobj_fail(__VA_ARGS__); kobj_setup_failed(); } while (0)

static void kobj_write(const char *suffix, const char *text) {
	char p[4096];
	snprintf(p, sizeof p, "%s%s", kobj_out, suffix);
	FILE *f = fopen(p, "w");
	if (!f) exit(3);
	fputs(text, f);
	fclose(f);
}

static void kobj_setup_failed(void) {
	kobj_write(".ready", kobj_msg);
	kobj_write("", kobj_msg);
	exit(2);
}

/* kobj_init: call first. SIGUSR1 stays blocked except in kobj_wait. */
static void kobj_init(int argc, char **argv) {
	if (argc < 2) exit(2);
	kobj_out = argv[1];
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = kobj_onusr1;
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &kobj_old);
	sigdelset(&kobj_old, SIGUSR1);
}

/* kobj_wait: says ready (an empty OUT.ready), waits for SIGUSR1. */
static void kobj_wait(void) {
	if (kobj_bad) kobj_setup_failed();
	kobj_write(".ready", "");
	/* The mask of now, SIGUSR1 apart: signals the program blocked stay
	 * blocked (and pending) while it waits. */
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	sigdelset(&cur, SIGUSR1);
	while (!kobj_go) sigsuspend(&cur);
}

static int kobj_done(void) {
	kobj_write("", kobj_bad ? kobj_msg : "ok");
	return kobj_bad;
}

/* fdinfo_line: the line of /proc/self/fdinfo/FD starting with key, or "". */
__attribute__((unused)) static const char *fdinfo_line(int fd, const char *key) {
	static char line[1024];
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(p, "r");
	line[0] = 0;
	if (!f) return line;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, strlen(key)) == 0) {
			fclose(f);
			line[strcspn(line, "\n")] = 0;
			return line;
		}
	fclose(f);
	line[0] = 0;
	return line;
}

/* read_file: the content of path (static buffer). */
__attribute__((unused)) static const char *read_file(const char *path) {
	static char buf[65536];
	buf[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f) return buf;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}
