/* kobj_userns: a user namespace of its own (unshare CLONE_NEWUSER) with
 * uid and gid maps and setgroups denied. After the restart it is still in
 * a user namespace of its own (not its parent's), whose parent is its
 * parent's and whose owner is the same, with the same maps, the same ids
 * inside, the same capabilities.
 *   (none): maps "0 0 1"; root inside, every capability.
 *   drop:   maps "0 100000 65536", then setresuid/setresgid(1000) inside:
 *           uid 101000 outside, no capability left.
 *   child:  as (none), and forks a child after the unshare, which must
 *           find itself in its parent's namespace with the same ids.
 *   nested: a user namespace inside another: refused.
 *   threads: a second thread, whose tid, ids and capabilities must be the
 *           same after the restart (cloned inside the namespace: its tid
 *           set through ns_last_pid).
 *   nomap:  no map written (`unshare -U`): uid and gid 65534 inside, the
 *           maps empty, setgroups allowed.
 *   Modes combine: "drop,threads,child".
 *   ownsmnt: a mount namespace made with it (CLONE_NEWUSER|CLONE_NEWNS):
 *           after the restart it still belongs to the user namespace, and
 *           a tmpfs can be mounted in it.
 *   ownsuts: a UTS namespace made with it, with a host name of its own:
 *           the same name, the namespace still its user namespace's.
 *   ownsnet: a network namespace made with it (`unshare -rn`): it still
 *           belongs to the user namespace, and the process can bring its
 *           loopback up and take it down (CAP_NET_ADMIN over it).
 *   ownsipc: an IPC namespace made with it: refused.
 *   sharefiles: a child sharing its descriptor table (CLONE_FILES):
 *           refused (a process enters a user namespace with its own).
 *   tgroups: maps "0 100000 65536" with setgroups allowed, and a second
 *           thread that sets groups of its own inside (the raw system
 *           call: only that thread's), 5 and 7: 100005 and 100007
 *           outside; its groups must be the same after the restart.
 *   tool:   it unshares nothing: it runs in the namespace `unshare -r`
 *           made (TestUserNamespaceUnshareTool). */
#include "kobj.h"
#include <linux/nsfs.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static void writef(const char *path, const char *s) {
	FILE *f = fopen(path, "w");
	if (!f || fputs(s, f) < 0 || fclose(f)) DIE("%s: %s", path, strerror(errno));
}

static ino_t ino(const char *path) {
	struct stat st;
	return stat(path, &st) ? 0 : st.st_ino;
}

/* the line of /proc/self/status starting with key */
static const char *status(const char *key) {
	static char line[4][256];
	static int n;
	char *l = line[n++ % 4];
	l[0] = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f) return l;
	while (fgets(l, 256, f))
		if (strncmp(l, key, strlen(key)) == 0) break;
	fclose(f);
	return l;
}

static char uidmap[256], gidmap[256], uidline[256], gidline[256], capeff[256], capprm[256];
static uid_t owner;
static const char *mode_ = "";
static const char *setgroups = "deny";
static ino_t parentns;

static void record(void) {
	snprintf(uidmap, sizeof uidmap, "%s", read_file("/proc/self/uid_map"));
	snprintf(gidmap, sizeof gidmap, "%s", read_file("/proc/self/gid_map"));
	snprintf(uidline, sizeof uidline, "%s", status("Uid:"));
	snprintf(gidline, sizeof gidline, "%s", status("Gid:"));
	snprintf(capeff, sizeof capeff, "%s", status("CapEff:"));
	snprintf(capprm, sizeof capprm, "%s", status("CapPrm:"));
	int fd = open("/proc/self/ns/user", O_RDONLY);
	if (fd < 0 || ioctl(fd, NS_GET_OWNER_UID, &owner)) DIE("NS_GET_OWNER_UID: %s", strerror(errno));
	close(fd);
}

static void check(const char *who) {
	CHECK(strcmp(read_file("/proc/self/uid_map"), uidmap) == 0, "%s: uid_map %s, was %s", who, read_file("/proc/self/uid_map"), uidmap);
	CHECK(strcmp(read_file("/proc/self/gid_map"), gidmap) == 0, "%s: gid_map %s, was %s", who, read_file("/proc/self/gid_map"), gidmap);
	CHECK(strstr(read_file("/proc/self/setgroups"), setgroups) != NULL, "%s: setgroups %s, want %s", who, read_file("/proc/self/setgroups"), setgroups);
	CHECK(strcmp(status("Uid:"), uidline) == 0, "%s: %s, was %s", who, status("Uid:"), uidline);
	CHECK(strcmp(status("Gid:"), gidline) == 0, "%s: %s, was %s", who, status("Gid:"), gidline);
	CHECK(strcmp(status("CapEff:"), capeff) == 0, "%s: %s, was %s", who, status("CapEff:"), capeff);
	CHECK(strcmp(status("CapPrm:"), capprm) == 0, "%s: %s, was %s", who, status("CapPrm:"), capprm);
	int fd = open("/proc/self/ns/user", O_RDONLY);
	uid_t o = -1;
	CHECK(fd >= 0 && ioctl(fd, NS_GET_OWNER_UID, &o) == 0 && o == owner, "%s: owner %d, was %d", who, (int)o, (int)owner);
	if (fd >= 0) close(fd);
	const char *kinds[] = {"mnt", "uts", "net"};
	for (int i = 0; i < 3; i++) {
		char want[8];
		snprintf(want, sizeof want, "owns%s", kinds[i]);
		if (!strstr(mode_, want)) continue;
		char p[64];
		snprintf(p, sizeof p, "/proc/self/ns/%s", kinds[i]);
		int nf = open(p, O_RDONLY);
		int un = nf < 0 ? -1 : ioctl(nf, NS_GET_USERNS);
		struct stat st;
		CHECK(un >= 0 && fstat(un, &st) == 0 && st.st_ino == ino("/proc/self/ns/user"), "%s: its %s namespace does not belong to its user namespace (%s)", who, kinds[i], strerror(errno));
		if (un >= 0) close(un);
		if (nf >= 0) close(nf);
	}
	if (strstr(mode_, "ownsmnt")) {
		char d[4096];
		snprintf(d, sizeof d, "%s.mnt-%d", kobj_out, getpid());
		mkdir(d, 0700);
		CHECK(mount("none", d, "tmpfs", 0, NULL) == 0, "%s: mount a tmpfs in its mount namespace: %s", who, strerror(errno));
		umount(d);
		rmdir(d);
	}
	if (strstr(mode_, "ownsnet")) {
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct ifreq ifr;
		memset(&ifr, 0, sizeof ifr);
		strcpy(ifr.ifr_name, "lo");
		CHECK(s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0, "%s: lo: %s", who, strerror(errno));
		short was = ifr.ifr_flags;
		ifr.ifr_flags = was ^ IFF_UP;
		CHECK(ioctl(s, SIOCSIFFLAGS, &ifr) == 0, "%s: set lo's flags to %#x (CAP_NET_ADMIN over its network): %s", who, ifr.ifr_flags, strerror(errno));
		ifr.ifr_flags = was;
		CHECK(ioctl(s, SIOCSIFFLAGS, &ifr) == 0, "%s: set lo's flags back: %s", who, strerror(errno));
		if (s >= 0) close(s);
	}
	if (strstr(mode_, "ownsuts")) {
		char h[64] = {0};
		gethostname(h, sizeof h - 1);
		CHECK(strcmp(h, "kobj-uts") == 0, "%s: host name %s, not kobj-uts", who, h);
		CHECK(sethostname("kobj-uts", 8) == 0, "%s: sethostname: %s", who, strerror(errno));
	}
}

static int sharer(void *a) {
	/* It never outlives the program (a refused checkpoint's run ends
	 * with the program alone signalled). */
	pid_t parent = (pid_t)(long)a;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) _exit(0);
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	sigdelset(&cur, SIGUSR1);
	while (!kobj_go) sigsuspend(&cur);
	return 0;
}

static volatile pid_t thread_tid;
static int tgroups;
static char tgroupsline[256];

static void *idle(void *a) {
	(void)a;
	if (tgroups) {
		gid_t gl[] = {5, 7};
		if (syscall(SYS_setgroups, 2, gl)) DIE("thread setgroups inside: %s", strerror(errno));
	}
	thread_tid = gettid();
	for (;;) pause();
	return NULL;
}

/* the line of /proc/self/task/TID/status starting with key */
static const char *tstatus(pid_t tid, const char *key) {
	static char l[256];
	char p[64];
	snprintf(p, sizeof p, "/proc/self/task/%d/status", tid);
	l[0] = 0;
	FILE *f = fopen(p, "r");
	if (!f) return l;
	while (fgets(l, sizeof l, f))
		if (strncmp(l, key, strlen(key)) == 0) break;
	fclose(f);
	return l;
}

static void check_thread(void) {
	if (!thread_tid) return;
	CHECK(strcmp(tstatus(thread_tid, "Uid:"), uidline) == 0, "thread %d: %s, want %s", thread_tid, tstatus(thread_tid, "Uid:"), uidline);
	CHECK(strcmp(tstatus(thread_tid, "CapEff:"), capeff) == 0, "thread %d: %s, want %s", thread_tid, tstatus(thread_tid, "CapEff:"), capeff);
	if (tgroups) {
		CHECK(strcmp(tstatus(thread_tid, "Groups:"), tgroupsline) == 0, "thread %d: %s, want %s", thread_tid, tstatus(thread_tid, "Groups:"), tgroupsline);
		CHECK(strcmp(status("Groups:"), tgroupsline) != 0, "the main thread has the thread's %s", tgroupsline);
	}
	char p[64];
	snprintf(p, sizeof p, "/proc/self/task/%d/ns/user", thread_tid);
	CHECK(ino(p) == ino("/proc/self/ns/user"), "thread %d in another user namespace", thread_tid);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "";
#define HAS(m) (strstr(mode, m) != NULL)
	mode_ = mode;
	parentns = ino("/proc/self/ns/user");
	int tool = HAS("tool");
	tgroups = HAS("tgroups");
	if (tool) {
		CHECK(strstr(read_file("/proc/self/uid_map"), "4294967295") == NULL, "in the initial user namespace: %s", read_file("/proc/self/uid_map"));
		record();
		kobj_wait();
		check("tool");
		return kobj_done();
	}
	int flags = CLONE_NEWUSER;
	if (HAS("ownsmnt")) flags |= CLONE_NEWNS;
	if (HAS("ownsuts")) flags |= CLONE_NEWUTS;
	if (HAS("ownsipc")) flags |= CLONE_NEWIPC;
	if (HAS("ownsnet")) flags |= CLONE_NEWNET;
	if (HAS("drop") || tgroups) {
		/* uid 101000 makes its result files in the test's directory
		 * (and again after the restart): it is opened to all. */
		char d[4096];
		snprintf(d, sizeof d, "%s", kobj_out);
		*strrchr(d, '/') = 0;
		if (chmod(d, 0777)) DIE("chmod %s: %s", d, strerror(errno));
		*strrchr(d, '/') = 0;
		if (chmod(d, 0755)) DIE("chmod %s: %s", d, strerror(errno));
		/* Maps of other ids than its own are written from outside:
		 * by a child left in the parent namespace. */
		int go[2];
		if (pipe(go)) DIE("pipe");
		pid_t w = fork();
		if (w < 0) DIE("fork: %s", strerror(errno));
		if (w == 0) {
			char b, path[64];
			close(go[1]);
			if (read(go[0], &b, 1) != 1) _exit(1);
			const char *files[] = {"setgroups", "uid_map", "gid_map"};
			const char *data[] = {tgroups ? "allow" : "deny", "0 100000 65536\n", "0 100000 65536\n"};
			for (int i = 0; i < 3; i++) {
				snprintf(path, sizeof path, "/proc/%d/%s", getppid(), files[i]);
				FILE *f = fopen(path, "w");
				if (!f || fputs(data[i], f) < 0 || fclose(f)) _exit(2);
			}
			_exit(0);
		}
		close(go[0]);
		if (unshare(flags)) DIE("unshare: %s", strerror(errno));
		write(go[1], "g", 1);
		int st;
		if (waitpid(w, &st, 0) != w || !WIFEXITED(st) || WEXITSTATUS(st)) DIE("the map writer: %#x", st);
		if (tgroups) setgroups = "allow";
		else if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) DIE("drop inside: %s", strerror(errno));
		/* The uid change made it undumpable: its child could not read
		 * its /proc/PID/ns. */
		prctl(PR_SET_DUMPABLE, 1);
	} else if (HAS("nomap")) {
		if (unshare(flags)) DIE("unshare: %s", strerror(errno));
		setgroups = "allow";
		if (getuid() != 65534) DIE("uid %d inside without a map, not 65534", getuid());
	} else {
		if (unshare(flags)) DIE("unshare: %s", strerror(errno));
		writef("/proc/self/setgroups", "deny");
		writef("/proc/self/uid_map", "0 0 1\n");
		writef("/proc/self/gid_map", "0 0 1\n");
	}
	if (HAS("ownsuts") && sethostname("kobj-uts", 8)) DIE("sethostname: %s", strerror(errno));
	if (HAS("nested") && unshare(CLONE_NEWUSER)) DIE("unshare again: %s", strerror(errno));
	pthread_t t;
	if (HAS("threads") || tgroups) {
		if (pthread_create(&t, NULL, idle, NULL)) DIE("pthread_create");
		while (!thread_tid) usleep(1000);
		if (tgroups) snprintf(tgroupsline, sizeof tgroupsline, "%s", tstatus(thread_tid, "Groups:"));
	}
	record();
	if (ino("/proc/self/ns/user") == parentns) DIE("not in a namespace of its own");
	static char cstack[65536];
	if (HAS("sharefiles") && clone(sharer, cstack + sizeof cstack, CLONE_FILES | SIGCHLD, (void *)(long)getpid()) < 0) DIE("clone: %s", strerror(errno));
	pid_t child = -1;
	int pp[2];
	if (HAS("child")) {
		if (pipe(pp)) DIE("pipe");
		child = fork();
		if (child < 0) DIE("fork: %s", strerror(errno));
		if (child == 0) {
			close(pp[0]);
			/* The child waits for SIGUSR1 too (kobjSignal signals the
			 * tree), then checks the same and says so on the pipe. */
			ino_t ns = ino("/proc/self/ns/user");
			kobj_go = 0;
			sigset_t cur;
			sigprocmask(SIG_BLOCK, NULL, &cur);
			sigdelset(&cur, SIGUSR1);
			while (!kobj_go) sigsuspend(&cur);
			check("child");
			CHECK(ns != parentns, "child: in its grandparent's user namespace");
			char pns[64];
			snprintf(pns, sizeof pns, "/proc/%d/ns/user", getppid());
			CHECK(ino(pns) == ino("/proc/self/ns/user"), "child: not in its parent's user namespace");
			write(pp[1], kobj_bad ? kobj_msg : "ok", strlen(kobj_bad ? kobj_msg : "ok"));
			_exit(kobj_bad);
		}
		close(pp[1]);
	}
	kobj_wait();
	check("parent");
	check_thread();
	if (child > 0) {
		char buf[4096] = {0};
		ssize_t n = read(pp[0], buf, sizeof buf - 1);
		int st;
		CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child exit %#x: %s", st, n > 0 ? buf : "");
	}
	return kobj_done();
}
