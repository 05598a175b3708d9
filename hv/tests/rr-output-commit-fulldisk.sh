#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Output commit with the log on a full disk: the recorder stops by itself with a clear message,
# having let out nothing unlogged; the replay goes live with every acknowledged SET (rr-output-commit.sh).
exec "$(dirname "$0")/rr-output-commit.sh" fulldisk
