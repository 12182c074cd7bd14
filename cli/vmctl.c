/* vmctl: the command-line client of vmd.  One table lists every command with
 * the protocol command it calls, its handler and its usage; usage() and
 * `vmctl help` are generated from that table so they cannot drift from what
 * exists, and `vmctl help --commands` lets tests check the table against
 * schemas/protocol.json.  This file also holds the helpers every handler
 * shares: option parsing, connecting, calling, failing. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/print.h"
#include "rpc/client.h"

#ifndef VMD_VERSION
#define VMD_VERSION "unknown"
#endif

#define DEFAULT_TIMEOUT_MS (120 * 1000)

static int cmd_help(struct ctl *ctl, int argc, char **argv);

static const struct ctl_cmd commands[] = {
	{ "define", "vm-define", cmd_define, "FILE.json",
	  "define a VM from a JSON configuration (\"-\" reads stdin)" },
	{ "update", "vm-update", cmd_update, "VM FILE.json",
	  "replace a VM's configuration (applies at next start)" },
	{ "undefine", "vm-undefine", cmd_undefine, "VM",
	  "remove a stopped VM's definition" },
	{ "list", "vm-list", cmd_list, "",
	  "list VMs with their state" },
	{ "show", "vm-show", cmd_show, "VM",
	  "show a VM's state and configuration" },
	{ "start", "vm-start", cmd_start, "VM",
	  "start a VM" },
	{ "stop", "vm-stop", cmd_stop, "VM [-t SECONDS]",
	  "power a VM down, killing it after SECONDS (default 30)" },
	{ "kill", "vm-kill", cmd_kill, "VM",
	  "stop a VM at once" },
	{ "reset", "vm-reset", cmd_reset, "VM",
	  "reset a running VM" },
	{ "pause", "vm-pause", cmd_pause, "VM",
	  "pause a running VM" },
	{ "resume", "vm-resume", cmd_resume, "VM",
	  "resume a paused VM" },
	{ "console", "console-attach", cmd_console,
	  "VM [--ro] [--force] [--port N] [-e CHAR]",
	  "attach to a VM's serial console" },
	{ "console-log", "console-read", cmd_console_log,
	  "VM [--port N] [--follow] [--since TIME] [--offset N] [--bytes N]",
	  "print a serial port's persistent log" },
	{ "monitor", "vm-monitor", cmd_monitor, "VM QMP-COMMAND [JSON-ARGS]",
	  "run one QMP command in a VM's QEMU" },
	{ "host", "query-host", cmd_host, "",
	  "show the host: accelerator verdict, QEMU, counts" },
	{ "events", NULL, cmd_events, "[--count N] [--timeout SEC]",
	  "print events as JSON lines" },
	{ "help", NULL, cmd_help, "[--commands] [COMMAND]",
	  "show this help, or the command table" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_usage(FILE *f)
{
	fprintf(f, "usage: vmctl [-s SOCKET] [--json] [--timeout SEC] "
		"COMMAND [ARG ...]\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "       vmctl %s%s%s\n", commands[i].name,
			*commands[i].args ? " " : "", commands[i].args);
}

static void cmd_usage_line(FILE *f, const struct ctl_cmd *cmd)
{
	fprintf(f, "usage: vmctl %s%s%s\n", cmd->name, *cmd->args ? " " : "",
		cmd->args);
}

static void json_error(const char *cls, const char *desc)
{
	struct json_object *o = json_object_new_object();
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	print_json(stdout, o);
	json_object_put(o);
}

/* The one way out on failure: a line on stderr, and with --json the error
 * object on stdout too (desc: the daemon's own words when it has some). */
static void die(struct ctl *ctl, int status, const char *cls, const char *desc,
		const char *msg) __attribute__((noreturn));
static void die(struct ctl *ctl, int status, const char *cls, const char *desc,
		const char *msg)
{
	fprintf(stderr, "vmctl: %s\n", msg);
	if (ctl != NULL && ctl->json)
		json_error(cls, desc);
	exit(status);
}

void ctl_fail(struct ctl *ctl, int status, const char *cls, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	die(ctl, status, cls, msg, msg);
}

void ctl_usage(struct ctl *ctl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmctl: %s: %s\n", ctl->cmd->name, msg);
	cmd_usage_line(stderr, ctl->cmd);
	if (ctl->json)
		json_error("InvalidArgument", msg);
	exit(EXIT_USAGE);
}

int ctl_getopt(struct ctl *ctl, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	char opts[64];
	int ch;

	/* A leading ':' makes a missing argument return ':' so the message
	 * can name it; getopt's own messages would use argv[0] wrongly. */
	snprintf(opts, sizeof(opts), ":%s", shortopts);
	opterr = 0;
	ch = getopt_long(argc, argv, opts, longopts, NULL);
	if (ch == '?') {
		if (optopt != 0)
			ctl_usage(ctl, "unknown option -%c", optopt);
		ctl_usage(ctl, "unknown option %s", argv[optind - 1]);
	}
	if (ch == ':') {
		/* glibc sets optopt to a long option's val too: name it as
		 * typed when it was a long one. */
		if (strncmp(argv[optind - 1], "--", 2) == 0)
			ctl_usage(ctl, "missing argument for %s", argv[optind - 1]);
		ctl_usage(ctl, "missing argument for -%c", optopt);
	}
	return ch;
}

void ctl_operands(struct ctl *ctl, int argc, int min, int max)
{
	int n = argc - optind;

	if (n < min)
		ctl_usage(ctl, "missing argument");
	if (max >= 0 && n > max)
		ctl_usage(ctl, "too many arguments");
}

long ctl_number(struct ctl *ctl, const char *what, const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > max)
		ctl_usage(ctl, "invalid %s: %s (0..%ld)", what, s, max);
	return v;
}

void ctl_connect(struct ctl *ctl)
{
	char err[512];
	int saved;

	if (ctl->rpc != NULL)
		return;
	errno = 0;
	ctl->rpc = rpc_client_connect(ctl->socket, err, sizeof(err));
	saved = errno;
	/* errno names the cause plainly; err is for failures without one
	 * (a path too long for a unix socket). */
	if (ctl->rpc == NULL && saved == 0)
		ctl_fail(ctl, EXIT_CONNECT, "GenericError",
			 "cannot connect: %s", err);
	if (ctl->rpc == NULL)
		ctl_fail(ctl, EXIT_CONNECT, "GenericError",
			 "cannot connect to %s: %s (is vmd running?)",
			 ctl->socket, strerror(saved));
	if (rpc_client_negotiate(ctl->rpc, ctl->timeout_ms, err, sizeof(err)) < 0)
		ctl_fail(ctl, EXIT_CONNECT, "GenericError",
			 "cannot negotiate with %s: %s", ctl->socket, err);
}

struct json_object *ctl_call(struct ctl *ctl, const char *what,
			     struct json_object *args)
{
	struct json_object *ret = NULL;
	char desc[2048];
	rpc_err e;

	ctl_connect(ctl);
	desc[0] = '\0';
	e = rpc_client_call(ctl->rpc, ctl->cmd->protocol, args, ctl->timeout_ms,
			    &ret, desc, sizeof(desc), NULL);
	if (e != RPC_OK) {
		char msg[4096];

		snprintf(msg, sizeof(msg), "%s%s%s: %s: %s", ctl->cmd->name,
			 what ? " " : "", what ? what : "", rpc_err_name(e), desc);
		die(ctl, EXIT_PROTOCOL, rpc_err_name(e), desc, msg);
	}
	if (ret == NULL)
		ret = json_object_new_object();
	return ret;
}

void ctl_flush(struct ctl *ctl)
{
	if (fflush(stdout) == 0)
		return;
	/* A reader that went away (vmctl list | head) is not worth a
	 * message, but the output is incomplete: not a success. */
	if (errno == EPIPE)
		exit(EXIT_PROTOCOL);
	ctl_fail(NULL, EXIT_PROTOCOL, "GenericError", "write to stdout: %s",
		 strerror(errno));
}

static const struct ctl_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_command_map(void)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		printf("%s %s\n", commands[i].name,
		       commands[i].protocol ? commands[i].protocol : "-");
}

static void print_help(void)
{
	struct table t;

	printf("usage: vmctl [-s SOCKET] [--json] [--timeout SEC] "
	       "COMMAND [ARG ...]\n\ncommands:\n");
	table_init(&t, 2);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char left[128];

		snprintf(left, sizeof(left), "  %s %s", commands[i].name,
			 commands[i].args);
		table_row(&t, left, commands[i].help);
	}
	table_print(&t, stdout);
	table_free(&t);
	printf("\nSee vmctl(1) for details.\n");
}

/* help [--commands] [COMMAND]: the table is the documentation. */
static int cmd_help(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "commands", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const struct ctl_cmd *cmd;
	int ch, map = 0;

	while ((ch = ctl_getopt(ctl, argc, argv, "", longopts)) != -1)
		if (ch == 'c')
			map = 1;
	ctl_operands(ctl, argc, 0, map ? 0 : 1);
	if (map) {
		print_command_map();
	} else if (optind < argc) {
		if ((cmd = find_command(argv[optind])) == NULL)
			ctl_usage(ctl, "unknown command: %s", argv[optind]);
		cmd_usage_line(stdout, cmd);
		printf("%s\n", cmd->help);
	} else {
		print_help();
	}
	return 0;
}

/* $VMD_SOCKET, else the system socket for root, else the user instance's. */
static const char *default_socket(void)
{
	static char path[4096];
	const char *env = getenv("VMD_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env != NULL && *env != '\0')
		return env;
	if (geteuid() == 0)
		return "/run/vmd/vmd.sock";
	if (xdg != NULL && *xdg != '\0')
		snprintf(path, sizeof(path), "%s/vmd/vmd.sock", xdg);
	else
		snprintf(path, sizeof(path), "/tmp/vmd-%u/vmd.sock",
			 (unsigned)geteuid());
	return path;
}

/* A usage error before any command runs: the whole usage, status 2. */
static void command_usage(struct ctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
static void command_usage(struct ctl *ctl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmctl: %s\n", msg);
	print_usage(stderr);
	if (ctl->json)
		json_error("InvalidArgument", msg);
	exit(EXIT_USAGE);
}

static void parse_global(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	long v;
	int ch;

	opterr = 0;
	/* "+": stop at the command name; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+:s:jt:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			ctl->socket = optarg;
			break;
		case 'j':
			ctl->json = 1;
			break;
		case 't':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno || v < 0 ||
			    v > 86400)
				command_usage(ctl, "invalid timeout: %s (0..86400)",
					      optarg);
			ctl->timeout_ms = v == 0 ? -1 : (int)(v * 1000);
			ctl->timeout_given = 1;
			break;
		case 'h':
			print_help();
			exit(0);
		case 'V':
			printf("vmctl %s\n", VMD_VERSION);
			exit(0);
		case ':':
			if (strncmp(argv[optind - 1], "--", 2) != 0)
				command_usage(ctl, "missing argument for -%c", optopt);
			command_usage(ctl, "missing argument for %s", argv[optind - 1]);
		default:
			if (optopt != 0)
				command_usage(ctl, "unknown option -%c", optopt);
			command_usage(ctl, "unknown option %s", argv[optind - 1]);
		}
	}
}

int main(int argc, char **argv)
{
	struct ctl ctl = { .timeout_ms = DEFAULT_TIMEOUT_MS };
	int status;

	/* A closed socket or pipe must be an error return, not a death. */
	signal(SIGPIPE, SIG_IGN);
	parse_global(&ctl, argc, argv);
	if (ctl.socket == NULL)
		ctl.socket = default_socket();
	argc -= optind;
	argv += optind;
	if (argc < 1)
		command_usage(&ctl, "missing command");
	if ((ctl.cmd = find_command(argv[0])) == NULL)
		command_usage(&ctl, "unknown command: %s", argv[0]);
	optind = 0;  /* glibc: 0 reinitializes getopt for the handler */
	status = ctl.cmd->run(&ctl, argc, argv);
	ctl_flush(&ctl);
	if (ctl.rpc != NULL)
		rpc_client_close(ctl.rpc);
	return status;
}
