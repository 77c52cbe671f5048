// unlinked DIR RESULT: unlinked files that must come back as the same
// files: a sparse file of 1 MiB (mode 0640, owner 1234:2345) open twice
// (two descriptions of one inode) and mapped shared, then removed; an
// O_TMPFILE file; a file removed under one name that another still links;
// a memfd with seals; a child sharing the first file, through a
// description of its own. It writes RESULT.ready, waits for SIGUSR1 (sent
// after the restart), checks each file from the inside and writes "ok" or
// what is wrong to RESULT.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE (1 << 20)
static volatile sig_atomic_t go;
static void onusr1(int s) { (void)s; go = 1; }
static const char *result;

static void report(const char *fmt, ...) {
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	FILE *f = fopen(result, "w");
	fprintf(f, "%s\n", buf);
	fclose(f);
	exit(0);
}
#define CHECK(c, ...) do { if (!(c)) report(__VA_ARGS__); } while (0)

static void waitgo(void) {
	sigset_t none;
	sigemptyset(&none);
	while (!go) sigsuspend(&none);
}

static const char *link_of(int fd) {
	static char buf[4][1024];
	static int n;
	char p[64];
	char *b = buf[n++ % 4];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	ssize_t k = readlink(p, b, 1023);
	b[k < 0 ? 0 : k] = 0;
	return b;
}

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	const char *dir = argv[1];
	result = argv[2];
	signal(SIGUSR1, onusr1);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	char data[512], a[512], b[512];
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);

	int fd1 = open(data, O_RDWR | O_CREAT | O_EXCL, 0640);
	if (fd1 < 0 || pwrite(fd1, "head", 4, 0) != 4 || pwrite(fd1, "tail", 4, SIZE - 4) != 4) return 3;
	fchown(fd1, 1234, 2345);
	fchmod(fd1, 0640);
	int fd2 = open(data, O_RDONLY);
	char *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd1, 0);
	unlink(data);
	int fd3 = open(dir, O_TMPFILE | O_RDWR, 0600);
	write(fd3, "tmp", 3);
	int fd4 = open(a, O_RDWR | O_CREAT | O_EXCL, 0600);
	write(fd4, "linked", 6);
	link(a, b);
	unlink(a);
	int fd5 = memfd_create("my memfd", MFD_ALLOW_SEALING);
	write(fd5, "memfd data", 10);
	fcntl(fd5, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	// Mapped, its descriptor closed, removed: only the mapping holds it.
	char mapped[512];
	snprintf(mapped, sizeof mapped, "%s/mapped", dir);
	int fm = open(mapped, O_RDWR | O_CREAT | O_EXCL, 0600);
	ftruncate(fm, 8192);
	char *only = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fm, 0);
	close(fm);
	unlink(mapped);
	if (only == MAP_FAILED) return 3;
	strcpy(only + 4096, "mapped only");
	if (fd2 < 0 || map == MAP_FAILED || fd3 < 0 || fd4 < 0 || fd5 < 0) return 3;
	char want1[1024], want3p[1024];
	snprintf(want1, sizeof want1, "%s (deleted)", data);
	snprintf(want3p, sizeof want3p, "%s/#", dir);

	pid_t child = fork();
	if (child == 0) {
		char p[64];
		snprintf(p, sizeof p, "/proc/self/fd/%d", fd1);
		int own = open(p, O_RDWR); // a description of its own
		waitgo();
		_exit(own >= 0 && pwrite(own, "child", 5, 100) == 5 ? 0 : 1);
	}
	char ready[512];
	snprintf(ready, sizeof ready, "%s.ready", result);
	close(open(ready, O_CREAT | O_WRONLY, 0644));
	waitgo();

	struct stat s1, s2, s4;
	char buf[64] = {0};
	CHECK(fstat(fd1, &s1) == 0 && fstat(fd2, &s2) == 0, "fstat: %s", strerror(errno));
	CHECK(s1.st_size == SIZE, "size %ld, want %d", (long)s1.st_size, SIZE);
	CHECK((s1.st_mode & 07777) == 0640, "mode %o, want 640", s1.st_mode & 07777);
	CHECK(s1.st_uid == 1234 && s1.st_gid == 2345, "owner %d:%d, want 1234:2345", s1.st_uid, s1.st_gid);
	CHECK(s1.st_nlink == 0, "%lu links, want 0", (unsigned long)s1.st_nlink);
	CHECK(s1.st_blocks < 64, "%ld blocks: the holes were filled", (long)s1.st_blocks);
	CHECK(s1.st_ino == s2.st_ino && s1.st_dev == s2.st_dev, "the two descriptions are two files (%lu, %lu)", s1.st_ino, s2.st_ino);
	CHECK(strcmp(link_of(fd1), want1) == 0, "fd %d is %s, want %s", fd1, link_of(fd1), want1);
	CHECK(pread(fd2, buf, 4, SIZE - 4) == 4 && memcmp(buf, "tail", 4) == 0, "the tail reads %.4s", buf);
	CHECK(memcmp(map, "head", 4) == 0, "the mapping reads %.4s", map);
	memcpy(map, "HEAD", 4);
	CHECK(pread(fd2, buf, 4, 0) == 4 && memcmp(buf, "HEAD", 4) == 0, "a store in the mapping is not in the file: %.4s", buf);
	CHECK(strncmp(link_of(fd3), want3p, strlen(want3p)) == 0 && strstr(link_of(fd3), "(deleted)"),
	      "O_TMPFILE file is %s, want one in %s", link_of(fd3), dir);
	CHECK(fstat(fd4, &s4) == 0 && s4.st_nlink == 1 && strcmp(link_of(fd4), b) == 0, "the file linked as b is %s with %lu links",
	      link_of(fd4), (unsigned long)s4.st_nlink);
	CHECK(pwrite(fd4, "LINKED", 6, 0) == 6, "write b: %s", strerror(errno));
	int fb = open(b, O_RDONLY);
	CHECK(fb >= 0 && pread(fb, buf, 6, 0) == 6 && memcmp(buf, "LINKED", 6) == 0, "b does not have the write through fd %d: %.6s", fd4, buf);
	CHECK(strcmp(link_of(fd5), "/memfd:my memfd (deleted)") == 0, "memfd is %s", link_of(fd5));
	int seals = fcntl(fd5, F_GET_SEALS);
	CHECK(seals == (F_SEAL_SHRINK | F_SEAL_GROW), "memfd seals %#x, want %#x", seals, F_SEAL_SHRINK | F_SEAL_GROW);
	CHECK(pread(fd5, buf, 10, 0) == 10 && memcmp(buf, "memfd data", 10) == 0, "memfd reads %.10s", buf);
	CHECK(strcmp(only + 4096, "mapped only") == 0, "the mapping only reads %.11s", only + 4096);
	char line[2048], wantm[1024];
	snprintf(wantm, sizeof wantm, " %s (deleted)\n", mapped);
	int shown = 0;
	FILE *maps = fopen("/proc/self/maps", "r");
	while (fgets(line, sizeof line, maps))
		if (strtoul(line, NULL, 16) == (unsigned long)only && strstr(line, wantm)) shown = 1;
	fclose(maps);
	CHECK(shown, "the mapping of the removed file is not shown as %s", wantm);
	kill(child, SIGUSR1);
	int st;
	CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status %#x", st);
	CHECK(pread(fd1, buf, 5, 100) == 5 && memcmp(buf, "child", 5) == 0, "the child's write is not seen: %.5s", buf);
	report("ok");
}
