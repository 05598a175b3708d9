#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ISA suite once more with --cpu jit: every test must pass under the translator too.
ISA_CPU=jit exec "$(dirname "$0")/../../tests/isa/run-ftvm.sh" "$@"
