/* Logging: to stderr in the foreground, to the journal with structured
 * fields (VM_NAME=, VM_UUID=) when stderr is connected to journald. */
#ifndef VMD_DAEMON_LOG_H
#define VMD_DAEMON_LOG_H

#include <syslog.h>

void log_init(int max_level);
int log_level_from_name(const char *name); /* -1 if unknown */
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vm(int prio, const char *vm, const char *uuid, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
