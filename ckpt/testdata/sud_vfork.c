/* A checkpoint that meets a vfork in progress (kobjsud_test.go).
 * Arguments: OUT FIFO. After kobj_init the program vforks; the child, on
 * the parent's memory, creates OUT.vforked and waits for a byte on FIFO,
 * then exits 7 (as a posix_spawn child would exec). The test begins the
 * checkpoint while the parent waits in vfork and writes the byte once the
 * checkpoint says it waits for the vfork (or, for a refused checkpoint,
 * after it). The parent then reaps the child, says ready and waits for
 * SIGUSR1 as the kobj programs do; it checks the child's status and that
 * the vfork child's write to the shared memory is seen. */
#include "kobj.h"
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static volatile int word;

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (argc < 3) DIE("usage: OUT FIFO");
	int fifo = open(argv[2], O_RDWR);
	if (fifo < 0) DIE("open %s: %s", argv[2], strerror(errno));
	char marker[4096];
	snprintf(marker, sizeof marker, "%s.vforked", argv[1]);
	pid_t c = vfork();
	if (c == 0) {
		char b;
		/* Raw calls only: the child runs on the parent's memory and
		 * stack. */
		long fd = syscall(SYS_openat, AT_FDCWD, marker, O_WRONLY | O_CREAT, 0644);
		syscall(SYS_close, fd);
		while (syscall(SYS_read, fifo, &b, 1) != 1)
			;
		word = 1;
		syscall(SYS_exit, 7);
	}
	if (c < 0) DIE("vfork: %s", strerror(errno));
	int st;
	if (waitpid(c, &st, 0) != c) DIE("waitpid: %s", strerror(errno));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "vfork child status %#x", st);
	CHECK(word == 1, "the vfork child's write not seen");
	kobj_wait();
	CHECK(word == 1, "word %d after the wait", word);
	return kobj_done();
}
