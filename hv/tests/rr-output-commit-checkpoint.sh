#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A recorder with --checkpoint-s trims its log to its last checkpoint while clients write; SIGKILLed,
# it goes live from that checkpoint with every acknowledged SET (rr-output-commit.sh).
exec "$(dirname "$0")/rr-output-commit.sh" checkpoint
