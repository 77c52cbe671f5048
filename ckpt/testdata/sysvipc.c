// sysvipc: SysV IPC objects that must come back as the same objects.
//
//   sysvipc all RESULT    (in an IPC namespace of its own) segments (keyed,
//                         private and removed while attached, attached
//                         twice, read-only, in part, split by mprotect,
//                         shared with a child, not attached at all), a
//                         semaphore set and a message queue
//   sysvipc host RESULT   one private segment (in the caller's namespace)
//
// It writes RESULT.ready, waits for SIGUSR1 (sent after the restart), then
// checks each object through its id (shmctl, semctl, msgrcv, shmdt) and
// writes "ok" or what is wrong to RESULT.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096
static volatile sig_atomic_t go;
static void onusr1(int s) { (void)s; go = 1; }
static const char *result;

static void report(const char *fmt, ...) {
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	FILE *f = fopen(result, "w");
	fprintf(f, "%s\n", buf);
	fclose(f);
	exit(0);
}
#define CHECK(c, ...) do { if (!(c)) report(__VA_ARGS__); } while (0)

static void waitgo(void) {
	sigset_t none;
	sigemptyset(&none);
	while (!go) sigsuspend(&none);
}

static void ready(void) {
	char p[512];
	snprintf(p, sizeof p, "%s.ready", result);
	close(open(p, O_CREAT | O_WRONLY, 0644));
}

static void fill(char *p, size_t n, int seed) {
	for (size_t i = 0; i < n; i++) p[i] = (char)(i * 7 + seed);
}
static int same(const char *p, size_t n, int seed) {
	for (size_t i = 0; i < n; i++)
		if (p[i] != (char)(i * 7 + seed)) return 0;
	return 1;
}

static void checkshm(int id, key_t key, size_t size, int mode, int nattch, const char *what) {
	struct shmid_ds ds;
	CHECK(shmctl(id, IPC_STAT, &ds) == 0, "%s: shmctl(%d) IPC_STAT: %s", what, id, strerror(errno));
	CHECK(ds.shm_perm.__key == key, "%s: key %#x, want %#x", what, ds.shm_perm.__key, key);
	CHECK(ds.shm_segsz == size, "%s: size %zu, want %zu", what, ds.shm_segsz, size);
	CHECK((ds.shm_perm.mode & 0777) == mode, "%s: mode %o, want %o", what, ds.shm_perm.mode & 0777, mode);
	CHECK(nattch < 0 || ds.shm_nattch == (shmatt_t)nattch, "%s: %lu attached, want %d", what, (unsigned long)ds.shm_nattch, nattch);
	CHECK(ds.shm_perm.uid == 1234 || mode != 0640, "%s: uid %d, want 1234", what, ds.shm_perm.uid);
}

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	result = argv[2];
	signal(SIGUSR1, onusr1);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL); // sigsuspend unblocks it
	if (strcmp(argv[1], "host") == 0) {
		int id = shmget(IPC_PRIVATE, 2 * PG, IPC_CREAT | 0600);
		char *p = shmat(id, NULL, 0);
		if (id < 0 || p == (void *)-1) return 3;
		fill(p, 2 * PG, 3);
		FILE *f = fopen(result, "w");
		fprintf(f, "%d\n", id);
		fclose(f);
		ready();
		waitgo();
		checkshm(id, IPC_PRIVATE, 2 * PG, 0600, 1, "host segment");
		CHECK(same(p, 2 * PG, 3), "host segment: bytes differ");
		CHECK(shmdt(p) == 0, "shmdt: %s", strerror(errno));
		CHECK(shmctl(id, IPC_RMID, NULL) == 0, "IPC_RMID: %s", strerror(errno));
		report("ok");
	}
	// A keyed segment not a multiple of the page, attached read-write
	// and read-only, with holes, owned by uid 1234.
	size_t s1 = 3 * PG + 100;
	int id1 = shmget(0x4c5a0001, s1, IPC_CREAT | IPC_EXCL | 0640);
	char *a1 = shmat(id1, NULL, 0);
	char *r1 = shmat(id1, NULL, SHM_RDONLY);
	if (id1 < 0 || a1 == (void *)-1 || r1 == (void *)-1) return 3;
	memset(a1, 0, s1);
	fill(a1 + PG, 100, 1);
	fill(a1 + 3 * PG, 100, 2);
	struct shmid_ds ds;
	shmctl(id1, IPC_STAT, &ds);
	ds.shm_perm.uid = 1234;
	shmctl(id1, IPC_SET, &ds);
	// Private, removed while attached (SHM_DEST): gone at its last shmdt.
	int id2 = shmget(IPC_PRIVATE, PG, IPC_CREAT | 0600);
	char *a2 = shmat(id2, NULL, 0);
	fill(a2, PG, 5);
	shmctl(id2, IPC_RMID, NULL);
	// Four pages of which the first was unmapped, the third made read-only.
	int id3 = shmget(0x4c5a0003, 4 * PG, IPC_CREAT | IPC_EXCL | 0600);
	char *a3 = shmat(id3, NULL, 0);
	fill(a3, 4 * PG, 9);
	munmap(a3, PG);
	mprotect(a3 + 2 * PG, PG, PROT_READ);
	// Nobody attaches this one: it is the job's (its own namespace).
	int id4 = shmget(0x4c5a0004, PG, IPC_CREAT | IPC_EXCL | 0604);
	char *t4 = shmat(id4, NULL, 0);
	fill(t4, PG, 11);
	shmdt(t4);
	// Semaphores and messages.
	int sem = semget(0x4c5a0005, 3, IPC_CREAT | IPC_EXCL | 0660);
	unsigned short vals[3] = {5, 0, 7};
	semctl(sem, 0, SETALL, vals);
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	struct { long type; char text[6000]; } m;
	long types[3] = {1, 7, 2};
	size_t lens[3] = {3, 5000, 1};
	for (int i = 0; i < 3; i++) {
		m.type = types[i];
		fill(m.text, lens[i], 20 + i);
		if (msgsnd(q, &m, lens[i], 0) != 0) return 4;
	}
	// SEM_UNDO: the parent's adjustment -1, a child's +4.
	int sem2 = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	semctl(sem2, 0, SETVAL, 10);
	struct sembuf up = {0, 1, SEM_UNDO}, down = {0, -4, SEM_UNDO};
	if (semop(sem2, &up, 1) != 0) return 5;
	pid_t undoer = fork();
	if (undoer == 0) {
		if (semop(sem2, &down, 1) != 0) _exit(1);
		for (;;) pause();
	}
	while (semctl(sem2, 0, GETVAL) != 7) usleep(1000);
	if (id2 < 0 || id3 < 0 || id4 < 0 || sem < 0 || q < 0 || sem2 < 0) return 3;
	// A child shares the first segment (attached by fork).
	pid_t child = fork();
	if (child == 0) {
		waitgo();
		strcpy(a1 + 2 * PG, "child wrote");
		_exit(shmdt(a1) == 0 && shmdt(r1) == 0 ? 0 : 1);
	}
	struct shmid_ds pre1;
	shmctl(id1, IPC_STAT, &pre1);
	ready();
	waitgo();

	checkshm(id1, 0x4c5a0001, s1, 0640, (int)pre1.shm_nattch, "keyed segment");
	CHECK(a1[0] == 0 && same(a1 + PG, 100, 1) && same(a1 + 3 * PG, 100, 2), "keyed segment: bytes differ");
	CHECK(same(r1 + PG, 100, 1), "keyed segment: read-only attachment differs");
	kill(child, SIGUSR1);
	int st;
	CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status %#x", st);
	CHECK(strcmp(a1 + 2 * PG, "child wrote") == 0, "the child's write is not seen: %.12s", a1 + 2 * PG);
	// The adjustments are applied as each process ends: the child's +4,
	// then the parent's -1 (unshare CLONE_SYSVSEM applies them as exit).
	CHECK(semctl(sem2, 0, GETVAL) == 7, "SEM_UNDO set: value %d, want 7", semctl(sem2, 0, GETVAL));
	kill(undoer, SIGKILL);
	CHECK(waitpid(undoer, &st, 0) == undoer, "undoer: %s", strerror(errno));
	CHECK(semctl(sem2, 0, GETVAL) == 11, "SEM_UNDO: after the child's end the value is %d, want 11", semctl(sem2, 0, GETVAL));
	CHECK(unshare(CLONE_SYSVSEM) == 0, "unshare: %s", strerror(errno));
	CHECK(semctl(sem2, 0, GETVAL) == 10, "SEM_UNDO: after the parent's undo the value is %d, want 10", semctl(sem2, 0, GETVAL));

	CHECK(shmctl(id1, IPC_STAT, &ds) == 0 && ds.shm_nattch == pre1.shm_nattch - 4, "keyed segment: %lu attached after the children, want %lu",
	      (unsigned long)ds.shm_nattch, (unsigned long)pre1.shm_nattch - 4);

	struct shmid_ds d2;
	CHECK(shmctl(id2, IPC_STAT, &d2) == 0, "removed segment: IPC_STAT: %s", strerror(errno));
	CHECK(d2.shm_perm.mode & SHM_DEST, "removed segment: not marked removed (mode %o)", d2.shm_perm.mode);
	CHECK(same(a2, PG, 5), "removed segment: bytes differ");

	// (Its count of attachments is one per piece the kernel split the
	// attachment into, a number its history made: not compared.)
	checkshm(id3, 0x4c5a0003, 4 * PG, 0600, -1, "partly attached segment");
	CHECK(same(a3 + PG, 3 * PG, 9), "partly attached segment: bytes differ");
	CHECK(mprotect(a3 + 2 * PG, PG, PROT_READ | PROT_WRITE) == 0, "partly attached segment: not writable again: %s", strerror(errno));
	// shmdt of the attach address finds the pages by their offsets in
	// the segment, the first one unmapped.
	CHECK(shmdt(a3) == 0, "partly attached segment: shmdt: %s", strerror(errno));
	CHECK(shmctl(id3, IPC_STAT, &ds) == 0 && ds.shm_nattch == 0, "partly attached segment: %lu attached after shmdt", (unsigned long)ds.shm_nattch);

	checkshm(id4, 0x4c5a0004, PG, 0604, 0, "unattached segment");
	t4 = shmat(id4, NULL, SHM_RDONLY);
	CHECK(t4 != (void *)-1 && same(t4, PG, 11), "unattached segment: bytes differ");
	CHECK(shmget(0x4c5a0004, 0, 0) == id4, "unattached segment: its key finds %d, want %d", shmget(0x4c5a0004, 0, 0), id4);

	unsigned short got[3];
	CHECK(semctl(sem, 0, GETALL, got) == 0, "semctl GETALL: %s", strerror(errno));
	CHECK(got[0] == 5 && got[1] == 0 && got[2] == 7, "semaphores %d %d %d, want 5 0 7", got[0], got[1], got[2]);
	struct sembuf op = {2, -7, IPC_NOWAIT};
	CHECK(semop(sem, &op, 1) == 0, "semop: %s", strerror(errno));
	CHECK(semget(0x4c5a0005, 0, 0) == sem, "semaphore key finds another set");

	struct msqid_ds qd;
	CHECK(msgctl(q, IPC_STAT, &qd) == 0 && qd.msg_qnum == 3, "message queue: %lu messages, want 3", (unsigned long)qd.msg_qnum);
	for (int i = 0; i < 3; i++) {
		ssize_t n = msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT);
		CHECK(n == (ssize_t)lens[i] && m.type == types[i] && same(m.text, lens[i], 20 + i),
		      "message %d: %zd bytes of type %ld, want %zu of type %ld", i, n, m.type, lens[i], types[i]);
	}

	CHECK(shmdt(a1) == 0 && shmdt(r1) == 0, "shmdt keyed segment: %s", strerror(errno));
	CHECK(shmdt(a2) == 0, "shmdt removed segment: %s", strerror(errno));
	CHECK(shmctl(id2, IPC_STAT, &d2) == -1 && errno == EINVAL, "removed segment still there after its last shmdt");
	report("ok");
}
