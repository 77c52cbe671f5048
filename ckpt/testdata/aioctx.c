/*
 * aioctx: a process with a kernel AIO context (io_setup), for checkpoint
 * tests. usage: aioctx OUTFILE. Appends a line every 20 ms until "stop"
 * appears in its working directory.
 */
#include <linux/aio_abi.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	aio_context_t ctx = 0;
	if (syscall(SYS_io_setup, 8, &ctx) != 0) {
		perror("io_setup");
		return 2;
	}
	FILE *out = fopen(argv[1], "a");
	struct stat st;
	for (int i = 0; stat("stop", &st) != 0; i++) {
		fprintf(out, "tick %d\n", i);
		fflush(out);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}
