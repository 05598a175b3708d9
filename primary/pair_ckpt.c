/* SPDX-License-Identifier: MIT */
/*
 * pair_ckpt: either daemon saves its machine beside its log every
 * --checkpoint-s (LOG.ckpt, with its place in the log). A child process
 * writes it from a copy-on-write image, so the guest or the replay does not
 * wait; hv_snapshot_save renames it into place only once it is whole. A host
 * that starts again on that log (as the backup) replays from there, not
 * from step 0.
 */
#include "pair.h"
#include "hv/rr/session.h"
#include "transport/log.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A writer that takes longer than this is stuck (a lock held across fork): kill it. */
#define CHECKPOINT_MAX_S 120

void ft_ckpt_init(struct ft_ckpt *c, const char *log_path, uint32_t every_s, const char *who)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s.ckpt", log_path ? log_path : "");
	c->every_s = log_path ? every_s : 0;
	c->who = who;
	c->last = ft_now_s();
}

/*
 * Has the writer finished? One running past CHECKPOINT_MAX_S, or still
 * running when the caller is done with the machine (stop_now: it must
 * neither wait for it nor leave it unreaped), is killed; its temporary file
 * never replaced the last good checkpoint, and is removed.
 */
void ft_ckpt_reap(struct ft_ckpt *c, bool stop_now)
{
	pid_t pid = c->pid, r;
	int ws;

	if (pid <= 0)
		return;
	r = waitpid(pid, &ws, WNOHANG);
	if (r == 0) {
		if (!stop_now && ft_now_s() - c->started <= CHECKPOINT_MAX_S)
			return;
		log_warnx("%s: the checkpoint at step %" PRIu64 " is still writing after %.1f s%s: killing it", c->who,
			  c->step, ft_now_s() - c->started, stop_now ? " and the machine is done with" : "");
		kill(pid, SIGKILL);
		r = waitpid(pid, &ws, 0);
	}
	c->pid = 0;
	if (r != pid)
		return;
	if (WIFEXITED(ws) && !WEXITSTATUS(ws)) {
		log_info("%s: checkpoint at step %" PRIu64 " saved to %s in %.0f ms", c->who, c->step, c->path,
			 (ft_now_s() - c->started) * 1e3);
		return;
	}
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", c->path, (int)pid);	/* hv_snapshot_save's */
	unlink(tmp);
	log_warnx("%s: the checkpoint at step %" PRIu64 " failed (%s %d); the last one stays", c->who, c->step,
		  WIFEXITED(ws) ? "exit" : "signal", WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
}

void ft_ckpt_maybe(struct ft_ckpt *c, struct rr_session *s)
{
	struct hv_snapshot_logpos pos;
	char err[768];
	double now = ft_now_s();

	ft_ckpt_reap(c, false);
	if (!c->every_s || c->pid || now - c->last < c->every_s)
		return;
	c->last = c->started = now;
	/* In this process: a recording closes its chunk here, so the place is in the log the writer writes. */
	if (rr_session_log_position(s, &pos, err, sizeof(err))) {
		log_warnx("%s: cannot checkpoint: %s", c->who, err);
		return;
	}
	c->step = hv_steps(rr_session_machine(s));
	pid_t pid = fork();
	if (pid == 0) {
		if (hv_snapshot_save(rr_session_machine(s), c->path, &pos, err, sizeof(err))) {
			dprintf(2, "ftvm: %s: checkpoint: %s\n", c->who, err);
			_exit(1);
		}
		_exit(0);
	}
	if (pid < 0)
		log_warnx("%s: cannot start a checkpoint: %s", c->who, strerror(errno));
	else
		c->pid = pid;
}
