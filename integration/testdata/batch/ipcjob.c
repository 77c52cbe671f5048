// ipcjob OUT STEPS: a batch job using SysV IPC. It makes a keyed shared
// memory segment, a semaphore set and a message queue, then for STEPS
// steps (50 ms each) finds each again by its key, checks it is the same
// id with the state the previous step left (counter in the segment, the
// semaphore's value, the message queued), moves the state on, and writes
// one line per step to OUT; "done" at the end, "FAIL ..." and exit 1 on a
// difference. Checkpointed and restarted, it must see its own objects.
// A POSIX message queue of a fixed name, made with O_EXCL (each job has an
// IPC namespace, so two jobs both make it), carries the step too.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <fcntl.h>
#include <mqueue.h>

static FILE *out;
#define FAIL(...) do { fprintf(out, "FAIL " __VA_ARGS__); fprintf(out, "\n"); fflush(out); exit(1); } while (0)

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	out = fopen(argv[1], "a");
	int steps = atoi(argv[2]);
	int shm = shmget(0x1a2a0001, 8192, IPC_CREAT | IPC_EXCL | 0600);
	int sem = semget(0x1a2a0002, 1, IPC_CREAT | IPC_EXCL | 0600);
	int q = msgget(0x1a2a0003, IPC_CREAT | IPC_EXCL | 0600);
	long *counter = shmat(shm, NULL, 0);
	struct mq_attr at = {.mq_maxmsg = 2, .mq_msgsize = sizeof(long)};
	mqd_t pq = mq_open("/ipcjob", O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0600, &at);
	if (shm < 0 || sem < 0 || q < 0 || counter == (void *)-1 || pq < 0) FAIL("setup");
	long zero = 0;
	mq_send(pq, (char *)&zero, sizeof zero, 3);
	struct { long type; long step; } m = {1, 0};
	msgsnd(q, &m, sizeof m.step, 0);
	fprintf(out, "ids shm %d sem %d msg %d\n", shm, sem, q);
	fflush(out);
	for (int i = 0; i < steps; i++) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
		if (shmget(0x1a2a0001, 0, 0) != shm || semget(0x1a2a0002, 0, 0) != sem || msgget(0x1a2a0003, 0) != q)
			FAIL("step %d: a key finds another id", i);
		if (*counter != i) FAIL("step %d: counter %ld", i, *counter);
		if (semctl(sem, 0, GETVAL) != i) FAIL("step %d: semaphore %d", i, semctl(sem, 0, GETVAL));
		if (msgrcv(q, &m, sizeof m.step, 0, IPC_NOWAIT) != sizeof m.step || m.step != i) FAIL("step %d: message %ld", i, m.step);
		long got = -1;
		unsigned prio = 0;
		if (mq_receive(pq, (char *)&got, sizeof got, &prio) != sizeof got || got != i || prio != 3)
			FAIL("step %d: POSIX message %ld prio %u", i, got, prio);
		got = i + 1;
		mq_send(pq, (char *)&got, sizeof got, 3);
		(*counter)++;
		struct sembuf up = {0, 1, 0};
		semop(sem, &up, 1);
		m.step = i + 1;
		msgsnd(q, &m, sizeof m.step, 0);
		fprintf(out, "step %d\n", i);
		fflush(out);
	}
	fprintf(out, "done\n");
	return 0;
}
