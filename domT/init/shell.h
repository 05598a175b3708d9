// SPDX-License-Identifier: MIT
// shell: the commands a person at domT's console types first, read line by line from stdin.
#ifndef DOMT_SHELL_H
#define DOMT_SHELL_H

struct shell_ops {
	int (*run)(const char *workload);	/* init's workloads: ftkv, cpubench, ... */
	void (*poweroff)(void);			/* does not return */
	void (*reap)(void);			/* collect exited children before each prompt */
};

// Returns at "exit" or at the end of input.
void shell_main(const struct shell_ops *ops);

#endif
