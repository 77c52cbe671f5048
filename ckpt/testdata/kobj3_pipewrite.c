/* kobj3_pipewrite: a thread blocked in a 200000-byte write on a full
 * 64 kB pipe, part written, finishes it after the restart: the reader
 * gets every byte in order, no more, no less. The write is a loop: the
 * freeze of the checkpoint, like any stop (SIGSTOP, SIGCONT), ends a
 * blocking pipe write that has written part with that part's count
 * (pipe_write: signal_pending), a short write the program must take. */
#include "kobj.h"
#include <pthread.h>

static int p[2];
static ssize_t wrote = -2;
static char buf[200000];

static void *w(void *a) {
	(void)a;
	ssize_t done = 0;
	while (done < (ssize_t)sizeof buf) {
		ssize_t n = write(p[1], buf + done, sizeof buf - done);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		done += n;
	}
	wrote = done;
	close(p[1]);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (pipe(p)) DIE("pipe");
	for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(i % 251);
	pthread_t t;
	pthread_create(&t, NULL, w, NULL);
	/* let it fill the pipe and block (if it has not yet, the case is
	 * only weaker) */
	usleep(200000);
	kobj_wait();
	static char got[250000];
	size_t have = 0;
	for (;;) {
		ssize_t r = read(p[0], got + have, sizeof got - have);
		if (r <= 0) break;
		have += r;
	}
	pthread_join(t, NULL);
	CHECK(wrote == (ssize_t)sizeof buf, "write returned %zd", wrote);
	CHECK(have == sizeof buf, "read %zu bytes, want %zu", have, sizeof buf);
	CHECK(have >= sizeof buf && memcmp(got, buf, sizeof buf) == 0, "bytes differ");
	return kobj_done();
}
