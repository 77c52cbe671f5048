/* kobj5a_msgtypes: a SysV message queue in the caller's namespace (mode
 * 0620, msg_qbytes lowered to 2000) holding 9 messages of types 1..5 in
 * mixed order, sizes 0 to 300; a semaphore set of 3 with values 0, 7 and
 * 32767. After the restart: the ids, counts, bytes, qbytes; msgrcv by
 * exact type, by -type (lowest first) and MSG_EXCEPT give them in order;
 * the semaphore values. */
#include "kobj.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>

struct msg { long type; char text[400]; };

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0620);
	if (q < 0) DIE("msgget: %s", strerror(errno));
	struct msqid_ds ds;
	msgctl(q, IPC_STAT, &ds);
	ds.msg_qbytes = 2000;
	if (msgctl(q, IPC_SET, &ds)) DIE("IPC_SET: %s", strerror(errno));
	long types[] = {3, 1, 5, 2, 3, 4, 1, 5, 2};
	int sizes[] = {10, 0, 300, 1, 20, 7, 33, 100, 2};
	struct msg m;
	int total = 0;
	for (int i = 0; i < 9; i++) {
		m.type = types[i];
		memset(m.text, 'a' + i, sizes[i]);
		if (msgsnd(q, &m, sizes[i], IPC_NOWAIT)) DIE("msgsnd %d: %s", i, strerror(errno));
		total += sizes[i];
	}
	int sem = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	unsigned short vals[3] = {0, 7, 32767};
	semctl(sem, 0, SETALL, vals);
	kobj_wait();
	CHECK(msgctl(q, IPC_STAT, &ds) == 0, "IPC_STAT: %s", strerror(errno));
	CHECK(ds.msg_qnum == 9 && ds.msg_cbytes == (unsigned long)total && ds.msg_qbytes == 2000 && (ds.msg_perm.mode & 0777) == 0620, "qnum %lu cbytes %lu qbytes %lu mode %o", (unsigned long)ds.msg_qnum, (unsigned long)ds.msg_cbytes, (unsigned long)ds.msg_qbytes, ds.msg_perm.mode & 0777);
	ssize_t n = msgrcv(q, &m, sizeof m.text, 5, IPC_NOWAIT);
	CHECK(n == 300 && m.text[0] == 'c', "type 5: %zd '%c'", n, m.text[0]);
	n = msgrcv(q, &m, sizeof m.text, -2, IPC_NOWAIT);
	CHECK(n == 0 && m.type == 1, "-2 first: %zd type %ld", n, m.type);
	n = msgrcv(q, &m, sizeof m.text, -2, IPC_NOWAIT);
	CHECK(n == 33 && m.type == 1 && m.text[0] == 'g', "-2 second: %zd type %ld", n, m.type);
	n = msgrcv(q, &m, sizeof m.text, 3, IPC_NOWAIT | MSG_EXCEPT);
	CHECK(n == 1 && m.type == 2, "except 3: %zd type %ld", n, m.type);
	n = msgrcv(q, &m, 5, 3, IPC_NOWAIT | MSG_NOERROR);
	CHECK(n == 5 && m.text[0] == 'a', "3 truncated: %zd '%c'", n, m.text[0]);
	n = msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT);
	CHECK(n == 20 && m.type == 3 && m.text[0] == 'e', "next: %zd type %ld", n, m.type);
	int left = 0;
	while (msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT) >= 0) left++;
	CHECK(left == 3, "%d left", left);
	unsigned short got[3] = {9, 9, 9};
	semctl(sem, 0, GETALL, got);
	CHECK(got[0] == 0 && got[1] == 7 && got[2] == 32767, "sem %d %d %d", got[0], got[1], got[2]);
	msgctl(q, IPC_RMID, NULL);
	semctl(sem, 0, IPC_RMID);
	return kobj_done();
}
