/* alarm(): the seconds left, and a SIGALRM that still comes. */
#include "kobj.h"

static volatile sig_atomic_t rang;
static void onalrm(int s) { (void)s; rang++; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGALRM, onalrm);
	alarm(777);
	kobj_wait();
	unsigned left = alarm(0);
	CHECK(left >= 700 && left <= 777, "alarm left %u, want near 777", left);
	alarm(1);
	for (int i = 0; i < 1000 && !rang; i++) usleep(10000);
	CHECK(rang == 1, "SIGALRM %d times", rang);
	return kobj_done();
}
