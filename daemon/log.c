/* Logging for vmd.  Under systemd, journald sets JOURNAL_STREAM to the
 * device:inode of the stream it gave us as stderr; when stderr is still that
 * stream we send structured entries with sd_journal_send so a VM's lines can
 * be found with `journalctl VM_NAME=web1`.  Otherwise plain lines on stderr. */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include "daemon/log.h"

static int log_max = LOG_INFO;
static int use_journal;

static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_init(int max_level)
{
	log_max = max_level;
	use_journal = stderr_is_journal();
}

int log_level_from_name(const char *name)
{
	static const struct { const char *n; int l; } t[] = {
		{"error", LOG_ERR}, {"warning", LOG_WARNING},
		{"info", LOG_INFO}, {"debug", LOG_DEBUG},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (!strcmp(name, t[i].n))
			return t[i].l;
	return -1;
}

static void log_emit(int prio, const char *vm, const char *uuid,
		     const char *fmt, va_list ap)
{
	char msg[2048];

	if (prio > log_max)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (use_journal) {
		if (vm)
			sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio,
					"VM_NAME=%s", vm, "VM_UUID=%s",
					uuid ? uuid : "", NULL);
		else
			sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio,
					NULL);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	localtime_r(&ts.tv_sec, &tm);
	char when[32];
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld vmd[%d]: %s%s%s%s\n", when,
		ts.tv_nsec / 1000000, (int)getpid(), vm ? "vm " : "",
		vm ? vm : "", vm ? ": " : "", msg);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(prio, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_vm(int prio, const char *vm, const char *uuid, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(prio, vm, uuid, fmt, ap);
	va_end(ap);
}
