/* kobj5b_thrsec: security state of one thread apart: the second thread
 * has no_new_privs, SECBIT_KEEP_CAPS and a smaller effective and
 * permitted set (capset of its own, raw), the main thread none of it.
 * After the restart each thread has its own. */
#include "kobj.h"
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static volatile int ready, go;
static int nnp2, sb2;
static unsigned eff2, prm2;

static void caps(unsigned *eff, unsigned *prm) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	syscall(SYS_capget, &h, d);
	*eff = d[0].effective;
	*prm = d[0].permitted;
}

static void *second(void *a) {
	(void)a;
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS, 0, 0, 0);
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	syscall(SYS_capget, &h, d);
	unsigned keep = (1u << CAP_KILL) | (1u << CAP_SETUID) | (1u << CAP_DAC_OVERRIDE);
	d[0].effective &= (1u << CAP_KILL);
	d[0].permitted &= keep;
	d[0].inheritable = 0;
	if (syscall(SYS_capset, &h, d)) {
		ready = -1;
		return NULL;
	}
	ready = 1;
	while (!go) usleep(1000);
	nnp2 = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	sb2 = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	caps(&eff2, &prm2);
	return NULL;
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	pthread_t th;
	pthread_create(&th, NULL, second, NULL);
	while (!ready) usleep(1000);
	if (ready < 0) DIE("capset: %s", strerror(errno));
	unsigned eff0, prm0;
	caps(&eff0, &prm0);
	kobj_wait();
	unsigned eff, prm;
	caps(&eff, &prm);
	CHECK(eff == eff0 && prm == prm0, "main thread caps %#x/%#x, were %#x/%#x", eff, prm, eff0, prm0);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0, "main thread has no_new_privs");
	CHECK(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) == 0, "main thread securebits %#x", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
	go = 1;
	pthread_join(th, NULL);
	CHECK(nnp2 == 1, "second thread no_new_privs %d", nnp2);
	CHECK(sb2 == SECBIT_KEEP_CAPS, "second thread securebits %#x", sb2);
	unsigned keep = (1u << CAP_KILL) | (1u << CAP_SETUID) | (1u << CAP_DAC_OVERRIDE);
	CHECK(eff2 == (1u << CAP_KILL) && prm2 == keep, "second thread caps %#x/%#x, want %#x/%#x", eff2, prm2, 1u << CAP_KILL, keep);
	return kobj_done();
}
