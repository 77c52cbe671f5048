/* kobj5a_shmrmid: SysV segments in the caller's IPC namespace: a private
 * one attached read-write and SHM_RDONLY at another address, then removed
 * (IPC_RMID: SHM_DEST, its id still works for IPC_STAT); a keyed one
 * attached read-only only, mode 0640. After the restart: the ids, the
 * attach counts, SHM_DEST, a store through the writable attach seen
 * through the read-only one, a store to the read-only one faults. */
#include "kobj.h"
#include <setjmp.h>
#include <sys/ipc.h>
#include <sys/shm.h>

static sigjmp_buf jb;
static void onsegv(int s) { (void)s; siglongjmp(jb, 1); }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int id = shmget(IPC_PRIVATE, 3 * 4096, IPC_CREAT | 0600);
	key_t key = 0x5a000000 | (getpid() & 0xffffff);
	int kid = shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0640);
	if (id < 0 || kid < 0) DIE("shmget: %s", strerror(errno));
	char *rw = shmat(id, NULL, 0);
	char *ro = shmat(id, NULL, SHM_RDONLY);
	char *kw = shmat(kid, NULL, 0);
	strcpy(kw, "keyed");
	shmdt(kw);
	char *kro = shmat(kid, NULL, SHM_RDONLY);
	if (rw == (void *)-1 || ro == (void *)-1 || kro == (void *)-1) DIE("shmat: %s", strerror(errno));
	strcpy(rw + 5000, "before");
	shmctl(id, IPC_RMID, NULL);
	kobj_wait();
	struct shmid_ds ds;
	CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT of the removed segment: %s", strerror(errno));
	CHECK(ds.shm_nattch == 2 && (ds.shm_perm.mode & SHM_DEST) && ds.shm_segsz == 3 * 4096 && (ds.shm_perm.mode & 0777) == 0600, "removed: nattch %lu mode %#o size %zu", (unsigned long)ds.shm_nattch, ds.shm_perm.mode, ds.shm_segsz);
	CHECK(strcmp(ro + 5000, "before") == 0, "the read-only attach reads '%s'", ro + 5000);
	strcpy(rw + 9000, "after");
	CHECK(strcmp(ro + 9000, "after") == 0, "the two attaches are not one segment");
	CHECK(shmget(key, 0, 0) == kid, "the key gives %d, not %d", shmget(key, 0, 0), kid);
	CHECK(shmctl(kid, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1 && (ds.shm_perm.mode & 0777) == 0640 && !(ds.shm_perm.mode & SHM_DEST), "keyed: nattch %lu mode %#o", (unsigned long)ds.shm_nattch, ds.shm_perm.mode);
	CHECK(strcmp(kro, "keyed") == 0, "keyed reads '%s'", kro);
	signal(SIGSEGV, onsegv);
	volatile int faulted = 0;
	if (sigsetjmp(jb, 1) == 0) { ro[0] = 1; } else faulted = 1;
	CHECK(faulted, "a store to the SHM_RDONLY attach did not fault");
	faulted = 0;
	if (sigsetjmp(jb, 1) == 0) { kro[0] = 1; } else faulted = 1;
	CHECK(faulted, "a store to the keyed read-only attach did not fault");
	shmdt(kro);
	shmctl(kid, IPC_RMID, NULL);
	return kobj_done();
}
