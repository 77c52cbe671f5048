/* kobj4b_stopthreads: a child of three threads (each counting) stopped by
 * SIGSTOP, its stop collected by the parent: after the restart every
 * thread of it is stopped (state T) and counts nothing; SIGCONT sets all
 * three counting again. */
#include "kobj.h"
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <dirent.h>

static volatile unsigned long *counts;

static void *spin(void *a) {
	long i = (long)a;
	for (;;) {
		counts[i]++;
		usleep(1000);
	}
	return NULL;
}

static int stopped_threads(pid_t p, int *total) {
	char d[64];
	snprintf(d, sizeof d, "/proc/%d/task", p);
	DIR *dir = opendir(d);
	struct dirent *e;
	int n = 0;
	*total = 0;
	while (dir && (e = readdir(dir))) {
		if (e->d_name[0] == '.') continue;
		char path[384];
		snprintf(path, sizeof path, "/proc/%d/task/%s/stat", p, e->d_name);
		const char *s = strrchr(read_file(path), ')');
		(*total)++;
		if (s && s[2] == 'T') n++;
	}
	if (dir) closedir(dir);
	return n;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t c = fork();
	if (c == 0) {
		signal(SIGUSR1, SIG_IGN);
		pthread_t t;
		pthread_create(&t, NULL, spin, (void *)1);
		pthread_create(&t, NULL, spin, (void *)2);
		spin((void *)0);
	}
	while (!counts[0] || !counts[1] || !counts[2]) usleep(1000);
	kill(c, SIGSTOP);
	int st;
	if (waitpid(c, &st, WUNTRACED) != c || !WIFSTOPPED(st)) DIE("child did not stop");
	int total;
	for (int i = 0; i < 200 && stopped_threads(c, &total) != 3; i++) usleep(10000);
	if (stopped_threads(c, &total) != 3) DIE("%d threads stopped", stopped_threads(c, &total));
	kobj_wait();
	CHECK(stopped_threads(c, &total) == 3 && total == 3, "%d of %d threads stopped", stopped_threads(c, &total), total);
	unsigned long before[3] = {counts[0], counts[1], counts[2]};
	usleep(200000);
	CHECK(counts[0] == before[0] && counts[1] == before[1] && counts[2] == before[2], "a stopped thread counts");
	CHECK(waitpid(c, &st, WUNTRACED | WNOHANG) == 0, "the stop reported again");
	kill(c, SIGCONT);
	for (int i = 0; i < 500 && (counts[0] == before[0] || counts[1] == before[1] || counts[2] == before[2]); i++) usleep(10000);
	CHECK(counts[0] > before[0] && counts[1] > before[1] && counts[2] > before[2], "after SIGCONT: %lu %lu %lu, were %lu %lu %lu", counts[0], counts[1], counts[2], before[0], before[1], before[2]);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	return kobj_done();
}
