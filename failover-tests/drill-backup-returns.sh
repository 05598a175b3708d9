#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Drill (issue 8, a backup that returns): drill-kill-backup.sh, then restart the backup on its own
# log file under the same load; once the primary reports the pair protected again, SIGKILL the
# primary: the restarted backup must take over with nothing lost.  Exit 0 pass, 77 skip, 1 fail.
FT_RESTART=1 exec "$(dirname "$0")/drill-kill-backup.sh"
