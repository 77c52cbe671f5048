/* Robust futexes: every thread's set_robust_list registration, a robust
 * mutex held by a second thread with a third blocked on it, and a
 * process-shared robust mutex held by a forked child. After the restart
 * the holders exit without unlocking: the kernel walks their robust lists
 * (the restored ones), so the waiter and the parent get EOWNERDEAD. */
#include "kobj.h"
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static pthread_mutex_t *m1, *m2;
static volatile int held, release;
static volatile pid_t tid2, tid3;
static volatile int waiter_rc = -1;
static void *head2;
static size_t len2;

static void *holder(void *a) {
	(void)a;
	tid2 = syscall(SYS_gettid);
	pthread_mutex_lock(m1);
	syscall(SYS_get_robust_list, 0, &head2, &len2);
	held = 1;
	while (!release) usleep(1000);
	return NULL; /* exits holding m1 */
}

static void *waiter(void *a) {
	(void)a;
	tid3 = syscall(SYS_gettid);
	waiter_rc = pthread_mutex_lock(m1);
	if (waiter_rc == EOWNERDEAD) pthread_mutex_consistent(m1);
	pthread_mutex_unlock(m1);
	return NULL;
}

static void robust_init(pthread_mutex_t *m, int shared) {
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (shared) pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(m, &a);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	m1 = malloc(sizeof *m1);
	m2 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	robust_init(m1, 0);
	robust_init(m2, 1);
	int p[2];
	if (pipe(p)) DIE("pipe");
	pid_t child = fork();
	if (child == 0) {
		pthread_mutex_lock(m2);
		write(p[1], "x", 1);
		/* Exit, holding m2, once SIGUSR1 comes. */
		kobj_wait();
		_exit(0);
	}
	char c;
	if (read(p[0], &c, 1) != 1) DIE("child did not lock");
	pthread_t t2, t3;
	pthread_create(&t2, NULL, holder, NULL);
	while (!held) usleep(1000);
	pthread_create(&t3, NULL, waiter, NULL);
	/* The waiter sleeps in FUTEX_WAIT on m1 (state S in its stat). */
	for (int i = 0; i < 5000; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid3);
		const char *s = read_file(path);
		const char *r = strrchr(s, ')');
		if (tid3 && r && r[2] == 'S' && strstr(read_file(path), "futex") == NULL) {
			char wc[64];
			snprintf(wc, sizeof wc, "/proc/self/task/%d/wchan", tid3);
			if (strstr(read_file(wc), "futex")) break;
		}
		usleep(1000);
	}
	void *head1;
	size_t len1;
	syscall(SYS_get_robust_list, 0, &head1, &len1);
	void *h2b = head2;
	kobj_wait();
	void *h;
	size_t l;
	syscall(SYS_get_robust_list, 0, &h, &l);
	CHECK(h == head1 && l == len1, "main robust list %p/%zu, was %p/%zu", h, l, head1, len1);
	syscall(SYS_get_robust_list, tid2, &h, &l);
	CHECK(h == h2b && l == len2, "holder robust list %p/%zu, was %p/%zu", h, l, h2b, len2);
	CHECK(waiter_rc == -1, "the waiter got the mutex early: %d", waiter_rc);
	release = 1;
	pthread_join(t2, NULL);
	pthread_join(t3, NULL);
	CHECK(waiter_rc == EOWNERDEAD, "waiter: %s, want EOWNERDEAD", strerror(waiter_rc));
	int st;
	CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %x", st);
	int rc = pthread_mutex_trylock(m2);
	CHECK(rc == EOWNERDEAD, "shared mutex after its holder exited: %s, want EOWNERDEAD", strerror(rc));
	return kobj_done();
}
