/* vmctl's command table entry, the state shared by all handlers, and the
 * helpers every handler uses to talk to vmd: connect, call the row's protocol
 * command, fail with the right exit status.  One handler per command lives
 * in commands.c; the table itself and main() live in vmctl.c. */
#ifndef VMD_CLI_COMMANDS_H
#define VMD_CLI_COMMANDS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <json-c/json.h>
#include "rpc/errors.h"

/* Exit statuses, documented in vmctl(1). */
#define EXIT_PROTOCOL 1  /* vmd answered with an error, or a local failure */
#define EXIT_USAGE    2  /* unknown command, missing or bad argument */
#define EXIT_CONNECT  3  /* cannot connect to (or negotiate with) vmd */

/* vmctl trusts vmd: a reply may exceed the 1 MiB cap on requests (vm-list
 * of 10,000 VMs with labels is about 1.5 MiB); this only bounds memory. */
#define VMCTL_MAX_REPLY (256u << 20)

struct ctl;

/* An operand ("VM") or option ("-f, --follow", "--port N") of a command and
 * what it does: `vmctl help CMD` shows them and the bash completion takes
 * its option words and operand kinds from them. */
struct ctl_opt {
	const char *flags;
	const char *help;
};

struct ctl_cmd {
	const char *name;      /* CLI name: "start" */
	const char *protocol;  /* protocol command it calls, NULL for none */
	int (*run)(struct ctl *ctl, int argc, char **argv);
	const char *args;      /* usage of its arguments: "VM [-t SECONDS]" */
	const char *help;      /* one line for `vmctl help` */
	const struct ctl_opt *opts;  /* operands and options, NULL-terminated */
	const char *more;      /* a paragraph for `vmctl help CMD`, or NULL */
	/* the daemon's words for what vmctl calls by a flag: pairs of
	 * protocol text and the flag, NULL-terminated */
	const char *const *words;
};

/* The command table (vmctl.c). */
extern const struct ctl_cmd ctl_commands[];
extern const size_t ctl_ncommands;
const struct ctl_cmd *ctl_find_command(const char *name);

struct ctl {
	const char *socket;          /* NULL: the default, see connect.c */
	int json;                    /* --json */
	int timeout_ms;              /* per call; -1 waits forever */
	int timeout_given;           /* --timeout was on the command line */
	const struct ctl_cmd *cmd;   /* the command being run */
	struct rpc_client *rpc;      /* NULL until ctl_connect() */
	int fail_status;             /* non-zero: every failure exits with
	                                this (apply keeps 2 for "changes") */
};

/* Print "vmctl: CMD: msg" and the command's usage to stderr, exit 2. */
void ctl_usage(struct ctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* Print "vmctl: msg" to stderr (and {"error": ...} on stdout with --json),
 * then exit with status. */
void ctl_fail(struct ctl *ctl, int status, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), noreturn));

/* "vmctl: msg" on stderr, made visible (print.h), and go on. */
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* getopt_long for a handler's own options: argv[0] is the command name.
 * Unknown options and missing option arguments end in ctl_usage(). */
int ctl_getopt(struct ctl *ctl, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);
/* After option parsing: demand between min and max operands (max -1: any). */
void ctl_operands(struct ctl *ctl, int argc, int min, int max);
/* Parse a non-negative integer no larger than max; usage error naming what. */
long ctl_number(struct ctl *ctl, const char *what, const char *s, long max);

/* Flush stdout; exits 1 when it cannot be written (disk full, closed pipe). */
void ctl_flush(struct ctl *ctl);
/* Connect and negotiate (exits 3 on failure); idempotent. */
void ctl_connect(struct ctl *ctl);
/* Call ctl->cmd->protocol with args (ownership taken, NULL for none).  On an
 * error reply prints "vmctl: CMD WHAT: Class: desc" and exits 1; what may be
 * NULL.  Returns the "return" value, owned by the caller. */
struct json_object *ctl_call(struct ctl *ctl, const char *what,
			     struct json_object *args);
/* With --json print ret; otherwise the formatted line (made visible).
 * Frees ret; returns 0. */
int ctl_finish(struct ctl *ctl, struct json_object *ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A command with no operands or options: its return value, or NULL once
 * printed as JSON (--json). */
struct json_object *ctl_call_bare(struct ctl *ctl, int argc, char **argv);
/* What ctl_call does with a reply: ret (or {}) for RPC_OK, else the error
 * message and exit 1. */
struct json_object *ctl_result(struct ctl *ctl, const char *what, rpc_err e,
			       struct json_object *ret, const char *desc);

/* A JSON object from FILE ("-": stdin); exits 1 naming the file when it
 * cannot be read, is not JSON or not an object. */
struct json_object *ctl_read_object(struct ctl *ctl, const char *path);
/* FILE's text ("-": stdin), NUL-terminated; exits 1 naming the file when
 * it cannot be read. */
char *ctl_read_text(struct ctl *ctl, const char *path);

/* help.c: usage and help, wrapped to the width of the terminal f is on
 * ($COLUMNS first; 80 when f is no terminal). */
int help_width(FILE *f);
void help_usage(FILE *f);
void help_usage_line(FILE *f, const struct ctl_cmd *cmd);
void help_all(FILE *f);
void help_command(FILE *f, const struct ctl_cmd *cmd);
int cmd_help(struct ctl *ctl, int argc, char **argv);
/* completion.c */
int cmd_completion(struct ctl *ctl, int argc, char **argv);

/* Handlers, one per row of the table (console ones in their own files). */
int cmd_define(struct ctl *ctl, int argc, char **argv);
int cmd_update(struct ctl *ctl, int argc, char **argv);
int cmd_undefine(struct ctl *ctl, int argc, char **argv);
int cmd_list(struct ctl *ctl, int argc, char **argv);
int cmd_show(struct ctl *ctl, int argc, char **argv);
int cmd_start(struct ctl *ctl, int argc, char **argv);
int cmd_stop(struct ctl *ctl, int argc, char **argv);
int cmd_kill(struct ctl *ctl, int argc, char **argv);
int cmd_reset(struct ctl *ctl, int argc, char **argv);
int cmd_pause(struct ctl *ctl, int argc, char **argv);
int cmd_resume(struct ctl *ctl, int argc, char **argv);
int cmd_monitor(struct ctl *ctl, int argc, char **argv);
int cmd_host(struct ctl *ctl, int argc, char **argv);
int cmd_events(struct ctl *ctl, int argc, char **argv);
/* tokens.c */
int cmd_token_create(struct ctl *ctl, int argc, char **argv);
int cmd_token_list(struct ctl *ctl, int argc, char **argv);
int cmd_token_revoke(struct ctl *ctl, int argc, char **argv);
/* usage.c */
int cmd_usage(struct ctl *ctl, int argc, char **argv);
/* --month YYYY-MM (default: this month, UTC) and --csv. */
void ctl_month_options(struct ctl *ctl, int argc, char **argv,
		       char month[16], int *csv);
/* o as JSON (--json), CSV or a table; frees o, flushes; returns 0. */
int ctl_print_as(struct ctl *ctl, struct json_object *o, int csv,
		 void (*as_csv)(struct json_object *),
		 void (*as_table)(struct json_object *));
/* invoice.c */
int cmd_plan_define(struct ctl *ctl, int argc, char **argv);
int cmd_plan_list(struct ctl *ctl, int argc, char **argv);
int cmd_plan_delete(struct ctl *ctl, int argc, char **argv);
int cmd_invoice(struct ctl *ctl, int argc, char **argv);
/* metrics.c */
int cmd_metrics(struct ctl *ctl, int argc, char **argv);
/* apply.c */
int cmd_apply(struct ctl *ctl, int argc, char **argv);

/* volumes.c */
int cmd_volume_create(struct ctl *ctl, int argc, char **argv);
int cmd_volume_list(struct ctl *ctl, int argc, char **argv);
int cmd_volume_show(struct ctl *ctl, int argc, char **argv);
int cmd_volume_delete(struct ctl *ctl, int argc, char **argv);
int cmd_volume_resize(struct ctl *ctl, int argc, char **argv);
int cmd_volume_import(struct ctl *ctl, int argc, char **argv);
int cmd_volume_clone(struct ctl *ctl, int argc, char **argv);
int cmd_job_list(struct ctl *ctl, int argc, char **argv);
int cmd_job_cancel(struct ctl *ctl, int argc, char **argv);
/* "a, b, c" of an array of strings, "-" for none. */
const char *ctl_names(struct json_object *a, char *buf, size_t len);
/* progress.c: a copy job's call.  ctl_job_match says whether the data of
 * a VOLUME_PROGRESS event is of the job that makes `what`. */
typedef bool ctl_job_match(const char *what, struct json_object *event);
bool ctl_job_is(const char *volume, struct json_object *event);
/* ctl_call without a deadline (unless --timeout), with a progress bar of
 * the events mine accepts when stderr is a terminal. */
struct json_object *ctl_call_copy(struct ctl *ctl, const char *what,
				  struct json_object *args, ctl_job_match *mine);
/* "1.5G": n bytes for people. */
void ctl_size(char *buf, size_t len, long long n);
/* templates.c */
int cmd_template(struct ctl *ctl, int argc, char **argv);
int cmd_clone(struct ctl *ctl, int argc, char **argv);
/* libvirt.c */
int cmd_import(struct ctl *ctl, int argc, char **argv);
int cmd_export(struct ctl *ctl, int argc, char **argv);

/* console.c */
int cmd_console(struct ctl *ctl, int argc, char **argv);
/* console_log.c */
int cmd_console_log(struct ctl *ctl, int argc, char **argv);

#endif
