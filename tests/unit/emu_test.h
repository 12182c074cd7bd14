/* Test helpers shared by the unit tests of emu/ and keeper/: files, temporary
 * directories and children. */
#ifndef VMD_TESTS_UNIT_EMU_TEST_H
#define VMD_TESTS_UNIT_EMU_TEST_H

#include <stddef.h>
#include <sys/types.h>

/* The first 64 KiB of a file, NUL-terminated (caller frees). */
char *slurp(const char *path);
/* A fresh /tmp/vmd-emu-XXXXXX; remove_tree removes it. */
void make_tmpdir(char *dir, size_t len);
void remove_tree(const char *dir);
/* The exit status of child pid, which must exit normally. */
int wait_exit(pid_t pid);

#endif
