# SPDX-License-Identifier: MIT
# backup: 'ftvm backup': receive, keep, acknowledge and replay the log; go live when the primary dies.
# Included before hv/build.mk, whose ftvm rule expands FTVM_OBJS.
FTVM_OBJS += backup/feed.o
FTVM_OBJS += backup/backup.o
