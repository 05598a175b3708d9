# SPDX-License-Identifier: MIT
# primary: 'ftvm primary', and what both daemons share (options, arbiter, control socket, status).
# Included before hv/build.mk, whose ftvm rule expands FTVM_OBJS.
FTVM_OBJS += primary/pair_opts.o
FTVM_OBJS += primary/arbiter_lock.o
FTVM_OBJS += primary/control.o
FTVM_OBJS += primary/primary.o
