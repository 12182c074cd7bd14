/* Unit test of keeper/launch.c: the keeper runs in a session of its own,
 * with default signal handling and an empty mask whatever vmd's are, holds
 * exactly the port descriptors it is given (vmd's other descriptors are
 * close-on-exec), has its output in its log, and a keeper that cannot run
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

static char dir[64];

static const char fake_keeper[] =
	"#!/bin/sh\n"
	"out=\"$2/seen\"\n"
	"shift 2\n"
	"{\n"
	"  echo \"args $*\"\n"
	"  echo \"pid $$ sid $(cut -d' ' -f6 /proc/$$/stat)\"\n"
	"  grep -E '^Sig(Blk|Ign):' /proc/$$/status\n"
	"  for p in \"$@\"; do\n"
	"    for fd in $(echo \"$p\" | tr ':' ' ' | cut -d' ' -f2-); do\n"
	"      [ -e /proc/$$/fd/$fd ] && echo \"has $fd\" || echo \"lacks $fd\"\n"
	"    done\n"
	"  done\n"
	"  [ -e /proc/$$/fd/$EXTRA_FD ] && echo \"has extra\" || echo \"lacks extra\"\n"
	"} > \"$out\"\n"
	"echo 'to the log'\n";

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "re");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int cloexec_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd > 2);
	return fd;
}

static void test_launch(void **state)
{
	struct keeper_port ports[2] = {
		{0, cloexec_fd(), cloexec_fd(), cloexec_fd()},
		{2, cloexec_fd(), cloexec_fd(), cloexec_fd()},
	};
	int extra = cloexec_fd(), st;
	char log[128], path[128], want[256], err[256] = "", num[16];
	sigset_t blocked;
	pid_t pid;

	(void)state;
	snprintf(num, sizeof num, "%d", extra);
	setenv("EXTRA_FD", num, 1);
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
	snprintf(want, sizeof want, "args %d:%d:%d:%d %d:%d:%d:%d\n", 0,
		 ports[0].qemu_fd, ports[0].listen_fd, ports[0].journal_fd, 2,
		 ports[1].qemu_fd, ports[1].listen_fd, ports[1].journal_fd);
	assert_non_null(strstr(seen, want));
	snprintf(want, sizeof want, "pid %d sid %d\n", (int)pid, (int)pid);
	assert_non_null(strstr(seen, want));
	assert_non_null(strstr(seen, "SigBlk:\t0000000000000000\n"));
	/* 32 and 33 are glibc's own, which its posix_spawn leaves ignored
	 * and the keeper's libc takes back at start */
	const char *ign = strstr(seen, "SigIgn:\t");
	assert_non_null(ign);
	assert_int_equal(strtoull(ign + 8, NULL, 16) & 0x7fffffffULL, 0);  /* 1..31 */
	for (int i = 0; i < 2; i++) {
		int fds[3] = {ports[i].qemu_fd, ports[i].listen_fd,
			      ports[i].journal_fd};
		for (int k = 0; k < 3; k++) {
			snprintf(want, sizeof want, "has %d\n", fds[k]);
			assert_non_null(strstr(seen, want));
		}
	}
	assert_non_null(strstr(seen, "lacks extra\n"));
	assert_string_equal(slurp(log), "to the log\n");
	sigprocmask(SIG_UNBLOCK, &blocked, NULL);
	signal(SIGUSR2, SIG_DFL);
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
