/* SPDX-License-Identifier: MIT */
/* exit: how a guest's run ends, as the exit status every command and daemon reports (docs/exit-codes.md). */
#include "cli/exit.h"
#include "hv/rr/live.h"

int cli_exit_status(int live_end)
{
	switch ((enum live_end)live_end) {
	case LIVE_END_POWEROFF: return FTVM_EXIT_POWEROFF;
	case LIVE_END_REBOOT: return FTVM_EXIT_REBOOT;
	case LIVE_END_FAIL: return FTVM_EXIT_GUEST_FAIL;
	case LIVE_END_LIMIT: return FTVM_EXIT_LIMIT;
	case LIVE_END_USER: return FTVM_EXIT_USER;
	case LIVE_END_STUCK: return FTVM_EXIT_STUCK;
	case LIVE_END_HOST_ERROR: return FTVM_EXIT_HOST_ERROR;
	}
	return FTVM_EXIT_HOST_ERROR;
}
