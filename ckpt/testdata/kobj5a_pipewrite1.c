/* kobj5a_pipewrite1: a thread in ONE blocking write() of 300000 bytes on
 * a full 64 KiB pipe, part of it written, across the checkpoint. Whatever
 * count that write returns, the reader gets exactly that many bytes of
 * the buffer, in order, then what the thread writes after (its tail,
 * from the returned count on), then end of file. */
#include "kobj.h"
#include <pthread.h>

#define N 300000
static unsigned char buf[N];
static int p[2];
static volatile ssize_t first = -2;

static void *writer(void *a) {
	(void)a;
	ssize_t n = write(p[1], buf, N);
	first = n;
	size_t off = n > 0 ? n : 0;
	while (off < N) {
		ssize_t m = write(p[1], buf + off, N - off);
		if (m < 0) { if (errno == EINTR) continue; break; }
		off += m;
	}
	close(p[1]);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	for (int i = 0; i < N; i++) buf[i] = (unsigned char)(i * 7 + i / 251);
	if (pipe(p)) DIE("pipe");
	pthread_t t;
	pthread_create(&t, NULL, writer, NULL);
	usleep(300000);
	kobj_wait();
	static unsigned char got[N + 100];
	size_t off = 0;
	for (;;) {
		ssize_t m = read(p[0], got + off, sizeof got - off);
		if (m < 0 && errno == EINTR) continue;
		if (m <= 0) break;
		off += m;
	}
	pthread_join(t, NULL);
	CHECK(first > 0 && first <= N, "the first write returned %zd", (ssize_t)first);
	CHECK(off == N, "the reader got %zu bytes, not %d (first write said %zd)", off, N, (ssize_t)first);
	CHECK(memcmp(got, buf, off < N ? off : N) == 0, "bytes differ");
	return kobj_done();
}
