/* A key added to the process keyring (keyctl), or with "thread" to the
 * main thread's: its description and payload read back through it. */
#include "kobj.h"
#include <sys/syscall.h>

#define KEY_SPEC_THREAD_KEYRING -1
#define KEY_SPEC_PROCESS_KEYRING -2
#define KEYCTL_SEARCH 10
#define KEYCTL_READ 11

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	int ring = argc > 2 && strcmp(argv[2], "thread") == 0 ? KEY_SPEC_THREAD_KEYRING : KEY_SPEC_PROCESS_KEYRING;
	long id = syscall(SYS_add_key, "user", "lazarus:k3", "secret-42", 9, ring);
	if (id < 0) DIE("add_key: %s", strerror(errno));
	kobj_wait();
	long found = syscall(SYS_keyctl, KEYCTL_SEARCH, ring, "user", "lazarus:k3", 0);
	CHECK(found >= 0, "the key is not in its keyring: %s", strerror(errno));
	char buf[32] = {0};
	long n = found >= 0 ? syscall(SYS_keyctl, KEYCTL_READ, found, buf, sizeof buf) : -1;
	CHECK(n == 9 && memcmp(buf, "secret-42", 9) == 0, "payload %ld %s", n, buf);
	return kobj_done();
}
