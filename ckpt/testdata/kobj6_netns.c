/* A network namespace of the program's own (unshare CLONE_NEWNET, as
 * `unshare -n` and bubblewrap's --unshare-net make). Modes:
 *   (none)  loopback up; a TCP listener, a connection to it from a forked
 *           child (in the namespace by inheritance), a UDP socket with a
 *           datagram queued, an abstract unix socket listening;
 *   down    loopback left down, as a new namespace has it;
 *   wasup   loopback brought up, then down (127.0.0.1 stays on it);
 *   mtu     loopback up with MTU 1500;
 *   addr    an address of its own on loopback (refused);
 *   thread  a thread that unshared a namespace of its own (refused);
 *   forked  a child forked before the unshare, left outside (refused);
 *   userns  as an ordinary user's `unshare -rn`: uid 65534 unshares
 *           CLONE_NEWUSER|CLONE_NEWNET at once (root inside, the network
 *           namespace owned by the user namespace), then as (none);
 *   userns-inner  as userns, with a child that makes a network namespace
 *           of its own inside the inherited user namespace (refused).
 * Checked: the namespace is not the parent's (the restart's), the
 * loopback's flags, MTU and address, and that every socket still works;
 * userns: the network namespace belongs to the process's user namespace,
 * which is not the one it started in, it is root inside, and it still has
 * CAP_NET_ADMIN over its loopback (it takes it down and up again). */
#include "kobj.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <grp.h>
#include <sched.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

static const char *mode = "";

static ino_t ns_kind_of(pid_t pid, const char *kind) {
	char p[64];
	struct stat st;
	snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)pid, kind);
	if (stat(p, &st) < 0) return 0;
	return st.st_ino;
}

static ino_t ns_of(pid_t pid) { return ns_kind_of(pid, "net"); }

static void write_file(const char *path, const char *text) {
	int fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) DIE("write %s: %s", path, strerror(errno));
	close(fd);
}

/* The user namespace that owns this process's network namespace. */
static ino_t net_owner(void) {
	int fd = open("/proc/self/ns/net", O_RDONLY);
	if (fd < 0) return 0;
	int u = ioctl(fd, NS_GET_USERNS);
	close(fd);
	if (u < 0) return 0;
	struct stat st;
	ino_t ino = fstat(u, &st) == 0 ? st.st_ino : 0;
	close(u);
	return ino;
}

static void lo_set(int s, int up, int mtu) {
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (mtu) {
		ifr.ifr_mtu = mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0) DIE("SIOCSIFMTU: %s", strerror(errno));
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) DIE("SIOCGIFFLAGS: %s", strerror(errno));
	if (up) ifr.ifr_flags |= IFF_UP;
	else ifr.ifr_flags &= ~IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) DIE("SIOCSIFFLAGS: %s", strerror(errno));
}

static struct sockaddr_in loaddr(int port) {
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static void *thread_unshare(void *arg) {
	(void)arg;
	if (unshare(CLONE_NEWNET) < 0) DIE("thread unshare: %s", strerror(errno));
	for (;;) pause();
	return NULL;
}

static void check_lo(int want_up, int want_mtu, int want_addr) {
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		kobj_fail("SIOCGIFFLAGS: %s", strerror(errno));
	} else {
		CHECK(!!(ifr.ifr_flags & IFF_UP) == want_up, "lo flags %#x, want up %d", ifr.ifr_flags, want_up);
	}
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0) kobj_fail("SIOCGIFMTU: %s", strerror(errno));
	else CHECK(ifr.ifr_mtu == want_mtu, "lo mtu %d, want %d", ifr.ifr_mtu, want_mtu);
	/* 127.0.0.1 is on it exactly when it should be. */
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	int r = ioctl(s, SIOCGIFADDR, &ifr);
	CHECK((r == 0) == want_addr, "SIOCGIFADDR lo: %s, want the address %s", r == 0 ? "ok" : strerror(errno), want_addr ? "there" : "absent");
	if (r == 0) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ifr.ifr_addr;
		CHECK(sa->sin_addr.s_addr == htonl(INADDR_LOOPBACK), "lo address %s", inet_ntoa(sa->sin_addr));
	}
	close(s);
	/* Interfaces: lo alone (and no eth0 of the host's). */
	struct if_nameindex *ni = if_nameindex(), *i;
	for (i = ni; i && i->if_index; i++)
		CHECK(strcmp(i->if_name, "lo") == 0 || (strncmp(i->if_name, "eth", 3) != 0 && strncmp(i->if_name, "en", 2) != 0),
		      "interface %s in the namespace", i->if_name);
	if (ni) if_freenameindex(ni);
}

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	if (argc > 2) mode = argv[2];
	pid_t outside = -1;
	if (!strcmp(mode, "forked")) {
		outside = fork();
		if (outside == 0) { for (;;) pause(); }
	}
	int userns = !strcmp(mode, "userns") || !strcmp(mode, "userns-inner");
	ino_t host_net = ns_of(getpid()), host_user = ns_kind_of(getpid(), "user");
	if (userns) {
		/* The result files are made by uid 65534. */
		char d[4096];
		snprintf(d, sizeof d, "%s", kobj_out);
		char *slash = strrchr(d, '/');
		if (slash) {
			*slash = 0;
			chmod(d, 0777);
			slash = strrchr(d, '/');
			if (slash) { *slash = 0; chmod(d, 0755); }
		}
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) DIE("drop to 65534: %s", strerror(errno));
		prctl(PR_SET_DUMPABLE, 1); /* as a user's own process is */
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) DIE("unshare user and net: %s", strerror(errno));
		write_file("/proc/self/setgroups", "deny");
		write_file("/proc/self/uid_map", "0 65534 1");
		write_file("/proc/self/gid_map", "0 65534 1");
	} else if (unshare(CLONE_NEWNET) < 0) DIE("unshare: %s", strerror(errno));
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int up = 1, mtu = 65536, addr = 1;
	if (!strcmp(mode, "down")) {
		up = 0, addr = 0;
	} else if (!strcmp(mode, "wasup")) {
		lo_set(s, 1, 0);
		lo_set(s, 0, 0);
		up = 0;
	} else if (!strcmp(mode, "mtu")) {
		lo_set(s, 1, 1500);
		mtu = 1500;
	} else {
		lo_set(s, 1, 0);
	}
	if (!strcmp(mode, "addr")) {
		struct ifreq ifr;
		memset(&ifr, 0, sizeof ifr);
		strcpy(ifr.ifr_name, "lo:1");
		struct sockaddr_in *sa = (struct sockaddr_in *)&ifr.ifr_addr;
		sa->sin_family = AF_INET;
		inet_pton(AF_INET, "10.9.8.7", &sa->sin_addr);
		if (ioctl(s, SIOCSIFADDR, &ifr) < 0) DIE("SIOCSIFADDR: %s", strerror(errno));
	}
	close(s);
	pthread_t th;
	if (!strcmp(mode, "thread")) pthread_create(&th, NULL, thread_unshare, NULL);

	int full = up && (!strcmp(mode, "") || !strcmp(mode, "mtu") || !strcmp(mode, "userns"));
	if (!strcmp(mode, "userns-inner")) {
		outside = fork();
		if (outside == 0) {
			if (unshare(CLONE_NEWNET) < 0) _exit(1);
			for (;;) pause();
		}
	}
	int lst = -1, conn = -1, acc = -1, udp = -1, un = -1;
	pid_t child = -1;
	int port = 0, uport = 0;
	if (full) {
		lst = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = loaddr(0);
		if (bind(lst, (struct sockaddr *)&a, sizeof a) < 0 || listen(lst, 8) < 0) DIE("listen: %s", strerror(errno));
		socklen_t l = sizeof a;
		getsockname(lst, (struct sockaddr *)&a, &l);
		port = ntohs(a.sin_port);
		conn = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(conn, (struct sockaddr *)&a, sizeof a) < 0) DIE("connect: %s", strerror(errno));
		acc = accept(lst, NULL, NULL);
		if (acc < 0) DIE("accept: %s", strerror(errno));
		child = fork();
		if (child == 0) {
			/* The child holds the client end: echoes what comes. */
			close(acc);
			close(lst);
			char b[64];
			for (;;) {
				ssize_t n = read(conn, b, sizeof b);
				if (n <= 0) _exit(0);
				if (write(conn, b, n) != n) _exit(1);
			}
		}
		close(conn);
		udp = socket(AF_INET, SOCK_DGRAM, 0);
		a = loaddr(0);
		bind(udp, (struct sockaddr *)&a, sizeof a);
		l = sizeof a;
		getsockname(udp, (struct sockaddr *)&a, &l);
		uport = ntohs(a.sin_port);
		if (sendto(udp, "queued", 6, 0, (struct sockaddr *)&a, sizeof a) != 6) DIE("sendto: %s", strerror(errno));
		un = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un u;
		memset(&u, 0, sizeof u);
		u.sun_family = AF_UNIX;
		snprintf(u.sun_path + 1, sizeof u.sun_path - 1, "kobjnetns");
		if (bind(un, (struct sockaddr *)&u, sizeof u) < 0 || listen(un, 4) < 0) DIE("abstract bind: %s", strerror(errno));
	}
	kobj_wait();

	/* In userns the parent's namespaces are not ours to look at: those it
	 * started in stand for them. */
	ino_t mine = ns_of(getpid()), parent = userns ? host_net : ns_of(getppid());
	CHECK(mine && parent && mine != parent, "network namespace %lu, its parent's %lu: want one of its own", (unsigned long)mine, (unsigned long)parent);
	check_lo(up, mtu, addr);
	if (full) {
		if (write(acc, "ping", 4) != 4) kobj_fail("write: %s", strerror(errno));
		char b[16] = {0};
		ssize_t n = read(acc, b, sizeof b - 1);
		CHECK(n == 4 && !memcmp(b, "ping", 4), "echo: %zd %s", n, b);
		struct sockaddr_in a = loaddr(port);
		int c2 = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(connect(c2, (struct sockaddr *)&a, sizeof a) == 0, "connect to the listener again: %s", strerror(errno));
		close(c2);
		n = recv(udp, b, sizeof b - 1, MSG_DONTWAIT);
		CHECK(n == 6 && !memcmp(b, "queued", 6), "queued datagram: %zd", n);
		(void)uport;
		int c3 = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un u;
		memset(&u, 0, sizeof u);
		u.sun_family = AF_UNIX;
		snprintf(u.sun_path + 1, sizeof u.sun_path - 1, "kobjnetns");
		CHECK(connect(c3, (struct sockaddr *)&u, sizeof u) == 0, "connect to the abstract listener: %s", strerror(errno));
		close(c3);
		close(acc);
		int st;
		waitpid(child, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "echo child status %#x", st);
		CHECK(ns_of(getpid()) == mine, "namespace changed");
	}
	if (userns) {
		ino_t user = ns_kind_of(getpid(), "user"), owner = net_owner();
		CHECK(user && user != host_user, "user namespace %lu, the one it started in %lu: want its own", (unsigned long)user, (unsigned long)host_user);
		CHECK(owner == user, "its network namespace belongs to user namespace %lu, not its own %lu", (unsigned long)owner, (unsigned long)user);
		CHECK(getuid() == 0 && geteuid() == 0 && getgid() == 0, "ids inside %d %d %d, want root", (int)getuid(), (int)geteuid(), (int)getgid());
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct ifreq ifr;
		memset(&ifr, 0, sizeof ifr);
		strcpy(ifr.ifr_name, "lo");
		if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
			short was = ifr.ifr_flags;
			ifr.ifr_flags = was & ~IFF_UP;
			CHECK(ioctl(s, SIOCSIFFLAGS, &ifr) == 0, "take lo down (CAP_NET_ADMIN over its own network): %s", strerror(errno));
			ifr.ifr_flags = was;
			CHECK(ioctl(s, SIOCSIFFLAGS, &ifr) == 0, "bring lo up again: %s", strerror(errno));
		}
		close(s);
	}
	if (outside > 0) kill(outside, SIGKILL);
	return kobj_done();
}
