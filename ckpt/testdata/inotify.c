/*
 * inotify: watches a directory (wd 1) and a file (wd 3; wd 2 was removed),
 * for checkpoint tests.
 * usage: inotify OUTFILE GOFILE DIR FILE OTHER
 * After GOFILE appears, prints the watch descriptor of each of the first
 * two events (the test creates a file in DIR and writes to FILE).
 */
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 6)
		return 2;
	FILE *out = fopen(argv[1], "w");
	int in = inotify_init1(0);
	int a = inotify_add_watch(in, argv[3], IN_CREATE);
	int b = inotify_add_watch(in, argv[5], IN_MODIFY);
	int c = inotify_add_watch(in, argv[4], IN_MODIFY);
	inotify_rm_watch(in, b);
	fprintf(out, "ready %d %d\n", a, c);
	fflush(out);
	struct stat st;
	while (stat(argv[2], &st) != 0) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	char buf[4096];
	int seen = 0;
	while (seen < 2) {
		ssize_t n = read(in, buf, sizeof buf);
		for (char *p = buf; p < buf + n && seen < 2;) {
			struct inotify_event *e = (struct inotify_event *)p;
			if (e->wd != b) {
				fprintf(out, "event wd %d\n", e->wd);
				seen++;
			}
			p += sizeof *e + e->len;
		}
	}
	fclose(out);
	return 0;
}
