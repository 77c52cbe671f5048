/* An eventfd: counter, EFD_SEMAPHORE, O_NONBLOCK; a second one plain. */
#include "kobj.h"
#include <sys/eventfd.h>
#include <stdint.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int s = eventfd(7, EFD_SEMAPHORE | EFD_NONBLOCK);
	int p = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 41;
	write(p, &v, 8);
	if (s < 0 || p < 0) DIE("eventfd: %s", strerror(errno));
	kobj_wait();
	CHECK(fcntl(s, F_GETFL) & O_NONBLOCK, "semaphore eventfd lost O_NONBLOCK");
	CHECK(!(fcntl(p, F_GETFL) & O_NONBLOCK), "plain eventfd got O_NONBLOCK");
	CHECK(fcntl(p, F_GETFD) == FD_CLOEXEC, "plain eventfd close-on-exec %d", fcntl(p, F_GETFD));
	CHECK(fcntl(s, F_GETFD) == 0, "semaphore eventfd close-on-exec %d", fcntl(s, F_GETFD));
	CHECK(strcmp(fdinfo_line(s, "eventfd-count"), "eventfd-count:                7") == 0, "fdinfo %s", fdinfo_line(s, "eventfd-count"));
	CHECK(strstr(fdinfo_line(s, "eventfd-semaphore"), "1") != NULL, "fdinfo %s", fdinfo_line(s, "eventfd-semaphore"));
	uint64_t got = 0;
	CHECK(read(s, &got, 8) == 8 && got == 1, "semaphore read %llu", (unsigned long long)got);
	CHECK(read(p, &got, 8) == 8 && got == 41, "plain read %llu", (unsigned long long)got);
	for (int i = 0; i < 6; i++) read(s, &got, 8);
	errno = 0;
	CHECK(read(s, &got, 8) < 0 && errno == EAGAIN, "semaphore after 7 reads: %s", strerror(errno));
	return kobj_done();
}
