/* dnotify: fcntl(F_NOTIFY, DN_CREATE|DN_MULTISHOT) on the working
 * directory with F_SETSIG SIGRTMIN+4. Its marks show nowhere a checkpoint
 * could read them: refused, and the program left running still gets its
 * signal for a file made in the directory. */
#include "kobj.h"

static volatile sig_atomic_t got;
static void on(int s) { (void)s; got++; }

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	signal(SIGRTMIN + 4, on);
	int d = open(".", O_RDONLY | O_DIRECTORY);
	if (fcntl(d, F_SETSIG, SIGRTMIN + 4) || fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT)) DIE("F_NOTIFY: %s", strerror(errno));
	kobj_wait();
	got = 0;
	close(open("made", O_CREAT | O_WRONLY, 0644));
	for (int i = 0; i < 2000 && !got; i++) usleep(1000);
	CHECK(got > 0, "no dnotify signal");
	unlink("made");
	return kobj_done();
}
