/* Unit test of keeper/launch.c: the keeper runs in a session of its own,
 * with default signal handling and an empty mask whatever vmd's are, holds
 * the port descriptors it is given, renumbered from 3, and no other of
 * vmd's (also none vmd failed to mark close-on-exec), has its output in
 * its log, and a keeper that cannot run
 * is an error at once.  keeper_program() looks beside the running program,
 * so the test runs a copy of itself from a scratch directory that holds a
 * fake vmd-keeper, a shell script that writes down what it got. */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "keeper/keeper.h"
#include "keeper/launch.h"
#include "tests/unit/emu_test.h"

static char dir[64];

static const char fake_keeper[] =
	"#!/bin/sh\n"
	"out=\"$2/seen\"\n"
	"shift 2\n"
	/* builtins first: the shell may block signals around its forks */
	"while read -r k v; do\n"
	"  case $k in SigBlk:|SigIgn:) echo \"$k $v\";; esac\n"
	"done < /proc/$$/status > \"$out\"\n"
	"{\n"
	"  echo \"args $*\"\n"
	"  echo \"pid $$ sid $(cut -d' ' -f6 /proc/$$/stat)\"\n"
	"  echo \"fds $(ls /proc/$$/fd | sort -n | tr '\\n' ' ')\"\n"
	"} >> \"$out\"\n"
	"for p in \"$@\"; do\n"
	"  IFS=: read n q l j <<EOF\n"
	"$p\n"
	"EOF\n"
	"  echo \"port $n qemu\" >&$q\n"
	"  echo \"port $n listen\" >&$l\n"
	"  echo \"port $n journal\" >&$j\n"
	"done\n"
	"echo 'to the log'\n";

static void assert_file(const char *path, const char *want)
{
	char *got = slurp(path);

	assert_string_equal(got, want);
	free(got);
}

static int cloexec_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd > 2);
	return fd;
}

static const char *const kinds[3] = {"qemu", "listen", "journal"};
#define STRAY_FD 200

/* A file of the scratch directory for port p's descriptor of kind k. */
static int port_file(int p, int k)
{
	char path[128];
	int fd;

	snprintf(path, sizeof path, "%s/port%d.%s", dir, p, kinds[k]);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd > 2);
	return fd;
}

static void test_launch(void **state)
{
	struct keeper_port ports[2] = {
		{0, port_file(0, 0), port_file(0, 1), port_file(0, 2)},
		{2, port_file(2, 0), port_file(2, 1), port_file(2, 2)},
	};
	/* one vmd forgot to mark close-on-exec: still not the keeper's */
	int stray = dup2(port_file(9, 0), STRAY_FD), st;
	char log[128], path[128], want[64], err[256] = "";
	sigset_t blocked;
	pid_t pid;

	(void)state;
	assert_int_equal(stray, STRAY_FD);
	/* what vmd does to its own signals must not reach the keeper */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	signal(SIGUSR2, SIG_IGN);
	snprintf(log, sizeof log, "%s/keeper.log", dir);
	pid = keeper_launch(dir, NULL, ports, 2, log, err, sizeof err);
	assert_true(pid > 0);
	assert_string_equal(err, "");
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	snprintf(path, sizeof path, "%s/seen", dir);
	char *seen = slurp(path);
	assert_non_null(strstr(seen, "args 0:3:4:5 2:6:7:8\n"));
	snprintf(want, sizeof want, "pid %d sid %d\n", (int)pid, (int)pid);
	assert_non_null(strstr(seen, want));
	assert_non_null(strstr(seen, "SigBlk: 0000000000000000\n"));
	/* 32 and 33 are glibc's own, which its posix_spawn leaves ignored
	 * and the keeper's libc takes back at start */
	const char *ign = strstr(seen, "SigIgn: ");
	assert_non_null(ign);
	assert_int_equal(strtoull(ign + 8, NULL, 16) & 0x7fffffffULL, 0);  /* 1..31 */
	/* its descriptors: stdio, the six, and the shell's own */
	assert_non_null(strstr(seen, "fds 0 1 2 3 4 5 6 7 8 "));
	snprintf(want, sizeof want, " %d ", STRAY_FD);
	assert_null(strstr(seen, want));
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 3; k++) {
			snprintf(path, sizeof path, "%s/port%d.%s", dir,
				 ports[i].port, kinds[k]);
			snprintf(want, sizeof want, "port %d %s\n", ports[i].port,
				 kinds[k]);
			assert_file(path, want);
		}
	assert_file(log, "to the log\n");
	sigprocmask(SIG_UNBLOCK, &blocked, NULL);
	signal(SIGUSR2, SIG_DFL);
	close(stray);
	free(seen);
}

/* The same launch with the program gone: an error naming it, no pid. */
static void test_missing_program(void **state)
{
	struct keeper_port port = {0, cloexec_fd(), cloexec_fd(), cloexec_fd()};
	char log[128], err[512] = "";
	const char *prog = keeper_program();

	(void)state;
	assert_int_equal(unlink(prog), 0);
	snprintf(log, sizeof log, "%s/keeper.log", dir);
	assert_int_equal(keeper_launch(dir, NULL, &port, 1, log, err, sizeof err),
			 -1);
	assert_non_null(strstr(err, prog));
	assert_non_null(strstr(err, "No such file"));
}

/* Run a copy of this program from a scratch directory beside a fake
 * vmd-keeper. */
static void run_copy(char **argv)
{
	char self[PATH_MAX], copy[128], fake[128], cmd[PATH_MAX + 300];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	FILE *f;

	if (n < 0 || !mkdtemp(strcpy(dir, "/tmp/vmd-keeper-launch-XXXXXX")))
		exit(1);
	self[n] = '\0';
	snprintf(copy, sizeof copy, "%s/test_keeper_launch", dir);
	snprintf(fake, sizeof fake, "%s/%s", dir, KEEPER_PROGRAM);
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", self, copy);
	if (system(cmd) != 0 || !(f = fopen(fake, "w")))
		exit(1);
	fputs(fake_keeper, f);
	fclose(f);
	chmod(fake, 0755);
	setenv("KEEPER_LAUNCH_DIR", dir, 1);
	execv(copy, argv);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *d = getenv("KEEPER_LAUNCH_DIR");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_launch),
		cmocka_unit_test(test_missing_program),
	};
	char cmd[128];
	int failed;

	(void)argc;
	if (!d)
		run_copy(argv);
	snprintf(dir, sizeof dir, "%s", d);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		failed++;
	return failed;
}
