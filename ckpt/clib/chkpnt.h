/*
 * chkpnt.h - liblazarus, the Lazarus checkpoint/restart library
 * (CONVEX Checkpoint Restart Guide, chapter 3; see chkpnt(3), restart(3)).
 *
 * chkpnt() and restart() run the installed chkpnt(1) and restart(1)
 * utilities (at the path the library was built with, never found on
 * $PATH); link with -llazarus (pkg-config --libs lazarus).
 */
#ifndef LAZARUS_CHKPNT_H
#define LAZARUS_CHKPNT_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* chkpnt() class */
#define CHKPNT_PROC      0x0001 /* only the process pid (0 means the same) */
#define CHKPNT_FAMILY    0x0002 /* the process tree rooted at pid */

/* chkpnt() options; CHKPNT_SIGFAMILY and CHKPNT_SIGROOT are mutually
 * exclusive, and exclude CHKPNT_KILL */
#define CHKPNT_FORCE     0x0004 /* proceed despite error conditions; overwrite */
#define CHKPNT_PFD       0x0008 /* CONVEX pattach(2) descriptor: not applicable on Linux (EINVAL) */
#define CHKPNT_KILL      0x0010 /* kill the checkpointed processes once the images are durable */
#define CHKPNT_SIGFAMILY 0x0020 /* send signo to every checkpointed process */
#define CHKPNT_SIGROOT   0x0040 /* send signo to the root process only */
#define CHKPNT_COMPRESS  0x0080 /* compress the memory in the images (chkpnt -z) */

/* restart() flags; RESTART_SIGFAMILY and RESTART_SIGROOT are mutually
 * exclusive */
#define RESTART_SIGFAMILY 0x0001 /* send signo to every restarted process */
#define RESTART_SIGROOT   0x0002 /* send signo to the root process only */
#define RESTART_FORCE     0x0004 /* proceed despite error conditions (new pid if taken) */
#define RESTART_DEBUG     0x0008 /* restart in debug state: the root left stopped for a debugger (restart -t) */
#define RESTART_SUSPEND   0x0010 /* leave the processes stopped, as by SIGSTOP */

/*
 * chkpnt checkpoints process pid (0: the caller itself), or the tree
 * rooted at it, into the image name (in directory dir if dir is not NULL).
 * Returns 0 once the image is durable; for the caller itself, 0 in the
 * program that goes on and 1 in the program a later restart brings back;
 * -1 with errno set on failure.
 */
int chkpnt(int class, pid_t pid, const char *dir, const char *name, int options, int signo);

/*
 * restart restarts the process (or tree) saved in the image path, as a
 * child of the caller; returns its pid (the root's), or -1 with errno set.
 */
pid_t restart(const char *path, int flags, int signo);

#ifdef __cplusplus
}
#endif

#endif
