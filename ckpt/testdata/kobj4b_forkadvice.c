/* kobj4b_forkadvice: the advice that acts at fork: a MADV_DONTFORK region
 * is absent from a child made after the restart (mincore ENOMEM there), a
 * MADV_WIPEONFORK one is zero in the child and kept in the parent, a
 * plain one is copied. */
#include "kobj.h"
#include <sys/mman.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	long pg = sysconf(_SC_PAGESIZE);
	char *dc = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *wf = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *pl = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(dc, 'd', 2 * pg);
	memset(wf, 'w', 2 * pg);
	memset(pl, 'p', 2 * pg);
	if (madvise(dc, 2 * pg, MADV_DONTFORK) || madvise(wf, 2 * pg, MADV_WIPEONFORK)) DIE("madvise: %s", strerror(errno));
	kobj_wait();
	CHECK(dc[0] == 'd' && wf[pg] == 'w' && pl[1] == 'p', "parent lost bytes: %c %c %c", dc[0], wf[pg], pl[1]);
	pid_t c = fork();
	if (c == 0) {
		unsigned char v[2];
		int code = 0;
		if (mincore(dc, 2 * pg, v) == 0 || errno != ENOMEM) code |= 1;
		if (wf[0] != 0 || wf[2 * pg - 1] != 0) code |= 2;
		if (pl[0] != 'p' || pl[2 * pg - 1] != 'p') code |= 4;
		_exit(code);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status %#x (1 DONTFORK region there, 2 WIPEONFORK region not zero, 4 plain region not copied)", st);
	CHECK(wf[0] == 'w', "parent's WIPEONFORK region wiped");
	return kobj_done();
}
