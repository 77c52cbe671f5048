/* kobj4a_ofdwait: OFD locks in one process: two descriptions of one file,
 * the first holding a write lock on bytes 100-199 (F_OFD_SETLK), a thread
 * waiting in F_OFD_SETLKW on the second for bytes 150-159. After the
 * restart the lock is still the first description's (the thread still
 * waits) and once it is released the thread gets its own. */
#include "kobj.h"
#include <pthread.h>

static int a, b;
static volatile int got;

static void *waiter(void *arg) {
	(void)arg;
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 150, .l_len = 10};
	while (fcntl(b, F_OFD_SETLKW, &l) < 0)
		if (errno != EINTR) { got = -errno; return NULL; }
	got = 1;
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	a = open("ofd-file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	b = open("ofd-file", O_RDWR);
	ftruncate(a, 4096);
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 100};
	if (fcntl(a, F_OFD_SETLK, &l)) DIE("F_OFD_SETLK: %s", strerror(errno));
	pthread_t th;
	pthread_create(&th, NULL, waiter, NULL);
	usleep(200000);
	if (got) DIE("the waiter did not wait: %d", got);
	kobj_wait();
	CHECK(got == 0, "the waiter got the lock before its release: %d", got);
	struct flock q = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 120, .l_len = 1};
	fcntl(b, F_OFD_GETLK, &q);
	CHECK(q.l_type == F_WRLCK && q.l_start == 100 && q.l_len == 100 && q.l_pid == -1, "F_OFD_GETLK through b: type %d %ld+%ld pid %d", q.l_type, (long)q.l_start, (long)q.l_len, q.l_pid);
	q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 120, .l_len = 1};
	fcntl(a, F_OFD_GETLK, &q);
	CHECK(q.l_type == F_UNLCK, "a conflicts with its own lock: type %d", q.l_type);
	l.l_type = F_UNLCK;
	fcntl(a, F_OFD_SETLK, &l);
	pthread_join(th, NULL);
	CHECK(got == 1, "the waiter: %d", got);
	q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 155, .l_len = 1};
	fcntl(a, F_OFD_GETLK, &q);
	CHECK(q.l_type == F_WRLCK && q.l_start == 150 && q.l_len == 10, "b's lock: type %d %ld+%ld", q.l_type, (long)q.l_start, (long)q.l_len);
	return kobj_done();
}
