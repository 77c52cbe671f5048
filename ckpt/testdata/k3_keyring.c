/* A key added to the process keyring (keyctl): its description and
 * payload read back through the process keyring. */
#include "kobj.h"
#include <sys/syscall.h>

#define KEY_SPEC_PROCESS_KEYRING -2
#define KEYCTL_SEARCH 10
#define KEYCTL_READ 11

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	long id = syscall(SYS_add_key, "user", "lazarus:k3", "secret-42", 9, KEY_SPEC_PROCESS_KEYRING);
	if (id < 0) DIE("add_key: %s", strerror(errno));
	kobj_wait();
	long found = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_PROCESS_KEYRING, "user", "lazarus:k3", 0);
	CHECK(found >= 0, "the key is not in the process keyring: %s", strerror(errno));
	char buf[32] = {0};
	long n = found >= 0 ? syscall(SYS_keyctl, KEYCTL_READ, found, buf, sizeof buf) : -1;
	CHECK(n == 9 && memcmp(buf, "secret-42", 9) == 0, "payload %ld %s", n, buf);
	return kobj_done();
}
