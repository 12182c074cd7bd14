/* vmctl: the command-line client of vmd.  One table lists every command with
 * the protocol command it calls, its handler, its usage and its options;
 * the usage, `vmctl help` (help.c) and the bash completion (completion.c)
 * are generated from that table so they cannot drift from what exists, and
 * `vmctl help --commands` lets tests check the table against
 * schemas/protocol.json.  This file also holds the helpers every handler
 * shares: option parsing, calling, failing (connecting: connect.c). */
#include "config.h"

#include <ctype.h>
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

#define VM_OPERAND { "VM", "the VM's name or UUID" }
#define OPTS(...) ((const struct ctl_opt[]){ __VA_ARGS__, { NULL, NULL } })
#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define PORT_OPT { "--port N", "serial port N, 0 to 3 (ttyS0 to ttyS3); " \
		   "default 0" }

#define VOLUME_NAME { "NAME", "the volume's name" }
#define SIZE_OPERAND { "SIZE", "bytes, or a number with K, M, G or T " \
		       "(powers of 1024): 10G" }
#define FORMAT_OPT { "--format F", "raw or qcow2 (default qcow2; a full " \
		     "clone: the source's)" }
#define POOL_OPT { "--pool P", "a pool of vmd's --pool (default: " \
		   "\"default\"; a clone: the source's)" }
#define COPY_MORE "vmctl waits for the copy; on a terminal a progress bar " \
	"follows it.  Interrupting vmctl does not stop the copy: use " \
	"vmctl job cancel ID (vmctl job list)."

static const char since_time[] =
	"TIME is unix seconds (1764144000), a local date and time "
	"\"YYYY-MM-DD HH:MM\" or \"YYYY-MM-DD HH:MM:SS\" (a T may replace the "
	"space), a date alone (its midnight), or a time before now: -30s, -10m, "
	"-2h, -1d.";

const struct ctl_cmd ctl_commands[] = {
	{ "define", "vm-define", cmd_define, "FILE.json",
	  "define a VM from a JSON configuration (\"-\" reads stdin)",
	  OPTS({ "FILE.json", "the configuration (schemas/vm-config.json; "
		 "only name is required); \"-\" reads standard input" }),
	  NULL, NULL },
	{ "update", "vm-update", cmd_update, "VM FILE.json",
	  "replace a VM's configuration (applies at next start)",
	  OPTS(VM_OPERAND, { "FILE.json", "the whole new configuration; \"-\" "
			     "reads standard input" }),
	  NULL, NULL },
	{ "undefine", "vm-undefine", cmd_undefine, "VM [--purge]",
	  "remove a stopped VM's definition",
	  OPTS(VM_OPERAND, { "--purge", "remove the VM's console logs at once "
			     "instead of keeping them for vmd's "
			     "--log-retention (30 days by default)" }),
	  NULL, WORDS("'purge'", "--purge", "\"purge\"", "--purge") },
	{ "list", "vm-list", cmd_list, "",
	  "list VMs with their state", NULL, NULL, NULL },
	{ "show", "vm-show", cmd_show, "VM",
	  "show a VM's state and configuration", OPTS(VM_OPERAND), NULL, NULL },
	{ "start", "vm-start", cmd_start, "VM",
	  "start a VM", OPTS(VM_OPERAND),
	  "vmctl waits until QEMU runs, then prints its pid and the "
	  "accelerator in use (kvm or tcg).  A QEMU that fails is reported as "
	  "EmulatorFailed with its last lines of error output.", NULL },
	{ "stop", "vm-stop", cmd_stop, "VM [-t SECONDS]",
	  "power a VM down, killing it after SECONDS (default 30)",
	  OPTS(VM_OPERAND, { "-t SECONDS", "kill QEMU if the guest has not "
			     "powered down after SECONDS, 0 to 3600; default "
			     "30" }),
	  "vmctl waits for QEMU to exit, up to SECONDS and a minute more "
	  "unless the global --timeout is given.",
	  WORDS("'timeout'", "-t", "\"timeout\"", "-t") },
	{ "kill", "vm-kill", cmd_kill, "VM",
	  "stop a VM at once", OPTS(VM_OPERAND), NULL, NULL },
	{ "reset", "vm-reset", cmd_reset, "VM",
	  "reset a running VM", OPTS(VM_OPERAND), NULL, NULL },
	{ "pause", "vm-pause", cmd_pause, "VM",
	  "pause a running VM", OPTS(VM_OPERAND), NULL, NULL },
	{ "resume", "vm-resume", cmd_resume, "VM",
	  "resume a paused VM", OPTS(VM_OPERAND), NULL, NULL },
	{ "console", "console-attach", cmd_console,
	  "VM [--ro] [--force] [--port N] [-e CHAR]",
	  "attach to a VM's serial console",
	  OPTS(VM_OPERAND,
	       { "--ro", "only watch: what is typed is not sent (the escape "
		 "character still works)" },
	       { "--force", "take the keyboard from the viewer who holds it, "
		 "who stays attached read-only; not with --ro" },
	       PORT_OPT,
	       { "-e CHAR", "the escape character, which detaches: ^X for a "
		 "control character, ^? for DEL, one character, or none; "
		 "default ^]" }),
	  "vmctl exits 0 when the escape character is typed, and 1 with a "
	  "message when the VM stops, vmd goes away or drops this viewer.",
	  WORDS("mode \"ro\"", "--ro", "'mode'", "--ro", "\"mode\"", "--ro",
		"'read_only'", "--ro", "\"read_only\"", "--ro",
		"read_only", "--ro", "'force'", "--force", "\"force\"",
		"--force", "with force", "with --force", "'port'", "--port",
		"\"port\"", "--port") },
	{ "console-log", "console-read", cmd_console_log,
	  "VM [--port N] [--follow] [--since TIME] [--offset N] [--bytes N]",
	  "print a serial port's persistent log",
	  OPTS(VM_OPERAND, PORT_OPT,
	       { "-f, --follow", "then print what the guest writes next, "
		 "until interrupted" },
	       { "--since TIME", "start at the first byte logged at or after "
		 "TIME" },
	       { "--offset N", "start at offset N (offsets count every byte "
		 "the port ever logged)" },
	       { "--bytes N", "print at most N bytes; without --since or "
		 "--offset the last N, default 64K; K and M count KiB and "
		 "MiB" }),
	  since_time,
	  WORDS("'port'", "--port", "\"port\"", "--port", "'offset'",
		"--offset", "\"offset\"", "--offset", "'since'", "--since",
		"\"since\"", "--since", "'max_bytes'", "--bytes",
		"\"max_bytes\"", "--bytes") },
	{ "monitor", "vm-monitor", cmd_monitor, "VM QMP-COMMAND [JSON-ARGS]",
	  "run one QMP command in a VM's QEMU",
	  OPTS(VM_OPERAND, { "QMP-COMMAND", "a QMP command, such as "
			     "query-status" },
	       { "JSON-ARGS", "its arguments, a JSON object" }),
	  "The return value is printed as JSON, with or without --json.", NULL },
	{ "apply", "spec-apply", cmd_apply,
	  "-f FILE.json [--dry-run] [--prune]",
	  "make the volumes and VMs what a spec says: create, update, prune",
	  OPTS({ "-f FILE.json", "the spec: a label, the volumes and the VMs' "
		 "configs or templates (schemas/protocol.json, Spec); \"-\" "
		 "reads standard input" },
	       { "--dry-run", "print the plan, change nothing, make no file" },
	       { "--prune", "also undefine the VMs that carry the spec's label "
		 "and are no longer in it (each must be stopped; their "
		 "volumes stay)" }),
	  "Prints one row per VM: its action (create, update, unchanged, "
	  "delete) and the members that change, \"(restart)\" after those a "
	  "running VM takes only at its next start; then one row per volume "
	  "(create, unchanged, or differs: an existing volume is never "
	  "changed).  Exit status: 0 nothing to do, 2 changes made (or "
	  "planned, with --dry-run), 1 any error.",
	  WORDS("'dry_run'", "--dry-run", "\"dry_run\"", "--dry-run",
		"'prune'", "--prune", "\"prune\"", "--prune",
		"prune:", "--prune:") },
	{ "template", "vm-template", cmd_template, "VM",
	  "make a stopped VM a template: its volumes become read-only bases",
	  OPTS(VM_OPERAND),
	  "Every disk of the VM must be a volume (vmctl volume import makes "
	  "one of a file).  A template cannot start; vmctl clone makes VMs of "
	  "it.", NULL },
	{ "clone", "vm-clone", cmd_clone, "TEMPLATE NEW [--full]",
	  "make a new VM of a template (new uuid and MACs)",
	  OPTS({ "TEMPLATE", "the template's name or UUID" },
	       { "NEW", "the new VM's name; its volumes are NEW-disk0, ..." },
	       { "--full", "copy the disks instead of making qcow2 overlays "
		 "on the template's bases" }),
	  "A linked clone is made at once whatever the disks' size; a full "
	  "clone waits for the copies (vmctl job list shows them).",
	  NULL },
	{ "import", "vm-import-libvirt", cmd_import,
	  "[--libvirt URI] [DOMAIN] [--file XML] [--strict] [--dry-run] [--name NAME]",
	  "define a VM from a libvirt domain (--libvirt or --file; what is not mapped is listed)",
	  OPTS({ "--libvirt URI", "the libvirt connection (qemu:///system, "
		 "test:///default, ...) to read DOMAIN from" },
	       { "DOMAIN", "the domain's name on that connection" },
	       { "--file XML", "read domain XML from a file (\"-\": stdin)" },
	       { "--strict", "refuse when anything is not mapped" },
	       { "--dry-run", "only print the mapped config" },
	       { "--name NAME", "the VM's name, instead of the domain's" }),
	  "Each element that is not mapped is printed with why (unmapped: the "
	  "guest would miss it; ignored: vmd's own choice stands in for it).",
	  NULL },
	{ "export", "vm-export-libvirt", cmd_export, "VM",
	  "print a VM's definition as libvirt domain XML",
	  OPTS(VM_OPERAND),
	  "What libvirt cannot say is listed on stderr.", NULL },
	{ "volume-create", "volume-create", cmd_volume_create,
	  "NAME SIZE [--format F] [--pool P]",
	  "create an empty volume (also: vmctl volume create)",
	  OPTS(VOLUME_NAME, SIZE_OPERAND, FORMAT_OPT, POOL_OPT), NULL, NULL },
	{ "volume-list", "volume-list", cmd_volume_list, "",
	  "list volumes (also: vmctl volume list)", NULL, NULL, NULL },
	{ "volume-show", "volume-show", cmd_volume_show, "NAME",
	  "show a volume, the VMs using it and its clones",
	  OPTS(VOLUME_NAME), NULL, NULL },
	{ "volume-delete", "volume-delete", cmd_volume_delete, "NAME",
	  "delete a volume nothing uses, and its file", OPTS(VOLUME_NAME),
	  NULL, NULL },
	{ "volume-resize", "volume-resize", cmd_volume_resize,
	  "NAME SIZE [--shrink]",
	  "grow a volume (online when its VM runs), or shrink it",
	  OPTS(VOLUME_NAME, SIZE_OPERAND,
	       { "--shrink", "allow a smaller size: the data past the new end "
		 "is lost" }),
	  NULL, WORDS("\"shrink\": true", "--shrink", "\"shrink\"",
		      "--shrink") },
	{ "volume-import", "volume-import", cmd_volume_import,
	  "NAME FILE [--from F] [--format F] [--pool P]",
	  "make a volume from a host file, converting its format",
	  OPTS(VOLUME_NAME, { "FILE", "the host file, opened as the QEMU user" },
	       { "--from F", "the file's format, raw (default) or qcow2 "
		 "(never guessed)" }, FORMAT_OPT, POOL_OPT),
	  COPY_MORE, NULL },
	{ "volume-clone", "volume-clone", cmd_volume_clone,
	  "SOURCE NAME [--full] [--format F] [--pool P]",
	  "make a linked clone (qcow2 overlay) or a full copy of a volume",
	  OPTS({ "SOURCE", "the volume to clone; a linked clone makes it a "
		 "read-only base" }, VOLUME_NAME,
	       { "--full", "copy the data instead of making an overlay" },
	       FORMAT_OPT, POOL_OPT),
	  COPY_MORE, NULL },
	{ "job-list", "job-list", cmd_job_list, "",
	  "list running qemu-img jobs (also: vmctl job list)", NULL, NULL,
	  NULL },
	{ "job-cancel", "job-cancel", cmd_job_cancel, "ID",
	  "cancel a job: its command fails and leaves no file",
	  OPTS({ "ID", "the job's id (job-list)" }), NULL, NULL },
	{ "token-create", "token-create", cmd_token_create,
	  "LABEL [--admin] [--read] [--vm VM=OPS] [--expires N] "
	  "[--until T]",
	  "make an access token; its secret is printed this once",
	  OPTS({ "LABEL", "what the token is for" },
	       { "--admin", "everything vmd-admin may do" },
	       { "--read", "what group vmd may do: list, show, watch" },
	       { "--vm VM=OPS", "only VM, only OPS, a comma-separated list "
		 "of show, watch (read its console), console (also type), "
		 "power (start, stop, kill, reset, pause, resume); repeat for "
		 "more VMs" },
	       { "--expires N", "expire N seconds from now" },
	       { "--until T", "expire at T, unix seconds" }),
	  "Give one scope: --admin, --read, or --vm once per VM.  Without "
	  "--expires or --until the token never expires.  A "
	  "client sends it with each request; vmctl sends $VMD_TOKEN.", NULL },
	{ "token-list", "token-list", cmd_token_list, "",
	  "list tokens (never their secrets; also: vmctl token list)", NULL,
	  NULL, NULL },
	{ "token-revoke", "token-revoke", cmd_token_revoke, "ID",
	  "revoke a token at once; its console sessions are closed",
	  OPTS({ "ID", "the token's id (token-list)" }), NULL, NULL },
	{ "usage", "usage-report", cmd_usage, "[VM] [--month YYYY-MM] [--csv]",
	  "metered usage of one month (UTC), per VM",
	  OPTS({ "VM", "only this VM (a name, or an undefined VM's uuid)" },
	       { "--month YYYY-MM", "the month (default: this one)" },
	       { "--csv", "CSV of exact integers instead of the table" }),
	  "The table sums each kind of device, in hours, GiB-hours and bytes; "
	  "--csv gives seconds, vCPU- and MiB-seconds, CPU microseconds, "
	  "bytes, operations and packets; --json every device (usage-report's "
	  "rows).", NULL },
	{ "plan-define", "plan-define", cmd_plan_define, "PLAN",
	  "define or replace a billing plan",
	  OPTS({ "PLAN", "the plan as JSON: name, currency, prices, included, "
		 "labels, transfer_quota (plan-define in docs/protocol.md)" }),
	  "Prices are integers in the currency's minor unit.", NULL },
	{ "plan-list", "plan-list", cmd_plan_list, "",
	  "list billing plans and their prices", NULL, NULL, NULL },
	{ "plan-delete", "plan-delete", cmd_plan_delete, "NAME",
	  "delete a billing plan no VM has", OPTS({ "NAME", "the plan" }),
	  NULL, NULL },
	{ "invoice", "invoice", cmd_invoice, "CUSTOMER [--month YYYY-MM] [--csv]",
	  "one customer's invoice for a month (UTC)",
	  OPTS({ "CUSTOMER", "the value of the VMs' label customer" },
	       { "--month YYYY-MM", "the month (default: this one)" },
	       { "--csv", "CSV: a line per VM, plan segment and resource, "
		 "then the total" }),
	  "Amounts are integers in the currency's minor unit, each line "
	  "rounded once, half up, from the exact usage; quantities are shown "
	  "to six decimals.", NULL },
	{ "metrics", "query-metrics", cmd_metrics, "[VM]",
	  "show counters: CPU, memory, disk, network and console bytes",
	  OPTS({ "VM", "only this VM; all VMs when absent" }),
	  "Disks, NICs and console ports are summed per VM (--json lists "
	  "them one by one); RSS is in MiB, the others in bytes.  The last "
	  "line has vmd's own counters.", NULL },
	{ "host", "query-host", cmd_host, "",
	  "show the host: accelerator verdict, QEMU, counts", NULL, NULL, NULL },
	{ "events", NULL, cmd_events, "[--count N] [--timeout SEC]",
	  "print events as JSON lines",
	  OPTS({ "--count N", "stop after N events; 0, the default, means no "
		 "limit" },
	       { "--timeout SEC", "stop after SEC seconds; 0, the default, "
		 "means no limit (after the command this is events' own "
		 "option; the global --timeout goes before it)" }),
	  "Running out of time before N events is an error (exit 1); with "
	  "--timeout alone it is not.", NULL },
	{ "help", NULL, cmd_help, "[--commands] [COMMAND]",
	  "show this help, or one command's",
	  OPTS({ "COMMAND", "show this command's usage, operands and options" },
	       { "--commands", "print the command table: each command and the "
		 "protocol command it calls (- for none)" }),
	  NULL, NULL },
	{ "completion", NULL, cmd_completion, "SHELL",
	  "print a shell completion script",
	  OPTS({ "SHELL", "bash, the only one so far" }),
	  "Load it with: source <(vmctl completion bash).  make install puts "
	  "it where bash-completion finds it.", NULL },
};
const size_t ctl_ncommands = sizeof(ctl_commands) / sizeof(ctl_commands[0]);

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

/* The one way out on failure: a line on stderr (made visible: it may echo
 * names), and with --json the error object on stdout too (desc: the
 * daemon's own words when it has some). */
static void die(struct ctl *ctl, int status, const char *cls, const char *desc,
		const char *msg) __attribute__((noreturn));
static void die(struct ctl *ctl, int status, const char *cls, const char *desc,
		const char *msg)
{
	fputs("vmctl: ", stderr);
	print_visible(stderr, msg);
	fputc('\n', stderr);
	if (ctl != NULL && ctl->json)
		json_error(cls, desc);
	exit(ctl != NULL && ctl->fail_status ? ctl->fail_status : status);
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

/* "vmctl: MSG" on stderr, MSG formatted into msg with its control
 * characters escaped (a VM name may hold any). */
static void say(char *msg, size_t cap, const char *fmt, va_list ap)
{
	vsnprintf(msg, cap, fmt, ap);
	fputs("vmctl: ", stderr);
	print_visible(stderr, msg);
	fputc('\n', stderr);
}

void ctl_warn(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	say(msg, sizeof(msg), fmt, ap);
	va_end(ap);
}

void ctl_usage(struct ctl *ctl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmctl: %s: ", ctl->cmd->name);
	print_visible(stderr, msg);
	fputc('\n', stderr);
	help_usage_line(stderr, ctl->cmd);
	if (ctl->json)
		json_error("InvalidArgument", msg);
	exit(ctl->fail_status ? ctl->fail_status : EXIT_USAGE);
}

/* --timeout SEC (0..86400, 0 waits forever) into ctl; -1 when invalid. */
static int set_timeout(struct ctl *ctl, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno || v < 0 || v > 86400)
		return -1;
	ctl->timeout_ms = v == 0 ? -1 : (int)(v * 1000);
	ctl->timeout_given = 1;
	return 0;
}

/* Values for the global options a handler's getopt also accepts after the
 * command, and for --help there. */
enum { OPT_JSON = 0x100, OPT_SOCKET, OPT_TIMEOUT, OPT_HELP };

static const struct option global_longopts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "help", no_argument, NULL, OPT_HELP },
};
#define NGLOBAL (sizeof(global_longopts) / sizeof(global_longopts[0]))

/* The handler's long options, then each global one it does not define
 * itself (events has its own --timeout). */
static const struct option *merged_longopts(const struct option *own)
{
	static struct option all[32];
	size_t n = 0;

	for (; own[n].name != NULL && n < 32 - NGLOBAL - 1; n++)
		all[n] = own[n];
	for (size_t g = 0; g < NGLOBAL; g++) {
		int mine = 0;

		for (size_t i = 0; own[i].name != NULL; i++)
			mine |= strcmp(own[i].name, global_longopts[g].name) == 0;
		if (!mine)
			all[n++] = global_longopts[g];
	}
	all[n] = (struct option){ NULL, 0, NULL, 0 };
	return all;
}

/* A global option met after the command: apply it.  1 if ch was one. */
static int global_after(struct ctl *ctl, int ch)
{
	switch (ch) {
	case OPT_JSON:
		ctl->json = 1;
		return 1;
	case OPT_SOCKET:
		ctl->socket = optarg;
		return 1;
	case OPT_TIMEOUT:
		if (set_timeout(ctl, optarg) < 0)
			ctl_usage(ctl, "invalid timeout: %s (0..86400)", optarg);
		return 1;
	case OPT_HELP:
		help_command(stdout, ctl->cmd);
		ctl_flush(ctl);
		exit(0);
	}
	return 0;
}

static void unknown_option(struct ctl *ctl, char **argv)
{
	if (optopt == 't' || optopt == 'V')
		ctl_usage(ctl, "unknown option -%c: global options go before the "
			  "command, or after it in their long form (--socket "
			  "SOCKET, --json, --timeout SEC)", optopt);
	if (optopt != 0 && optopt < 0x100)
		ctl_usage(ctl, "unknown option -%c", optopt);
	ctl_usage(ctl, "unknown option %s", argv[optind - 1]);
}

int ctl_getopt(struct ctl *ctl, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	const struct option *all = merged_longopts(longopts);
	char opts[64];
	int ch;

	/* A leading ':' makes a missing argument return ':' so the message
	 * can name it; getopt's own messages would use argv[0] wrongly. */
	snprintf(opts, sizeof(opts), ":%sh%s%s", shortopts,
		 strchr(shortopts, 'j') ? "" : "j",
		 strchr(shortopts, 's') ? "" : "s:");
	opterr = 0;
	do {
		ch = getopt_long(argc, argv, opts, all, NULL);
		if (ch == 'h' || (ch == 'j' && !strchr(shortopts, 'j')) ||
		    (ch == 's' && !strchr(shortopts, 's')))
			ch = ch == 'h' ? OPT_HELP : ch == 'j' ? OPT_JSON : OPT_SOCKET;
	} while (global_after(ctl, ch));
	if (ch == '?')
		unknown_option(ctl, argv);
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

/* Is s[0..n) a whole word where it stands in text?  Only edges that are
 * word characters need a boundary ("with force" must not match "with
 * forced"). */
static int whole_word(const char *text, const char *s, size_t n)
{
	int wl = isalnum((unsigned char)s[0]) || s[0] == '_';
	int wr = isalnum((unsigned char)s[n - 1]) || s[n - 1] == '_';

	if (wl && s > text && (isalnum((unsigned char)s[-1]) || s[-1] == '_'))
		return 0;
	return !(wr && (isalnum((unsigned char)s[n]) || s[n] == '_'));
}

/* Is the protocol word `from`, quotes aside, the name the user typed?  A
 * VM called "force" must stay 'force' in "VM 'force' is stopped". */
static int is_name(const char *from, const char *what)
{
	size_t n = strlen(from), q = strspn(from, "'\"");

	if (what == NULL || n < 2 * q)
		return 0;
	return strlen(what) == n - 2 * q && strncmp(from + q, what, n - 2 * q) == 0;
}

/* The daemon's description in vmctl's terms: each protocol word of the
 * command's row replaced by the flag a vmctl user types. */
static void speak_flags(const struct ctl_cmd *cmd, const char *what,
			const char *desc, char *out, size_t len)
{
	char tmp[2048];

	snprintf(out, len, "%s", desc);
	for (size_t i = 0; cmd->words != NULL && cmd->words[i] != NULL; i += 2) {
		const char *from = cmd->words[i], *to = cmd->words[i + 1];
		size_t n = strlen(from), used = 0;
		const char *p = out, *hit;

		if (is_name(from, what))
			continue;
		tmp[0] = '\0';
		while ((hit = strstr(p, from)) != NULL) {
			int w = whole_word(out, hit, n);

			used += (size_t)snprintf(tmp + used, sizeof(tmp) - used,
						 "%.*s%s", (int)(hit - p), p,
						 w ? to : from);
			p = hit + n;
			if (used >= sizeof(tmp))
				break;
		}
		if (used < sizeof(tmp))
			snprintf(tmp + used, sizeof(tmp) - used, "%s", p);
		snprintf(out, len, "%s", tmp);
	}
}

struct json_object *ctl_call(struct ctl *ctl, const char *what,
			     struct json_object *args)
{
	struct json_object *ret = NULL;
	char desc[2048];
	rpc_err e;

	/* vmd takes only UTF-8: say so here rather than leave it to vmd */
	if (args != NULL && !text_is_utf8(json_object_to_json_string(args)))
		ctl_usage(ctl, "%s: not valid UTF-8", what ? what : "argument");
	ctl_connect(ctl);
	desc[0] = '\0';
	e = rpc_client_call(ctl->rpc, ctl->cmd->protocol, args, ctl->timeout_ms,
			    &ret, desc, sizeof(desc), NULL);
	return ctl_result(ctl, what, e, ret, desc);
}

struct json_object *ctl_result(struct ctl *ctl, const char *what, rpc_err e,
			       struct json_object *ret, const char *desc)
{
	char said[2048];

	if (e != RPC_OK) {
		char msg[4096];

		speak_flags(ctl->cmd, what, desc, said, sizeof(said));
		snprintf(msg, sizeof(msg), "%s%s%s: %s: %s", ctl->cmd->name,
			 what ? " " : "", what ? what : "", rpc_err_name(e), said);
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

const struct ctl_cmd *ctl_find_command(const char *name)
{
	for (size_t i = 0; i < ctl_ncommands; i++)
		if (strcmp(ctl_commands[i].name, name) == 0)
			return &ctl_commands[i];
	return NULL;
}

/* A usage error before any command runs: the whole usage, status 2. */
static void command_usage(struct ctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
static void command_usage(struct ctl *ctl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	say(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	help_usage(stderr);
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
			if (set_timeout(ctl, optarg) < 0)
				command_usage(ctl, "invalid timeout: %s (0..86400)",
					      optarg);
			break;
		case 'h':
			help_all(stdout);
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
	argc -= optind;
	argv += optind;
	if (argc < 1)
		command_usage(&ctl, "missing command");
	/* "vmctl volume create" is "vmctl volume-create" (one row each);
	 * so are job and token */
	char group[64];
	if (argc >= 2 && (!strcmp(argv[0], "volume") || !strcmp(argv[0], "job") ||
			  !strcmp(argv[0], "token")) &&
	    snprintf(group, sizeof(group), "%s-%s", argv[0], argv[1]) <
	    (int)sizeof(group) && ctl_find_command(group)) {
		argv++;
		argc--;
		argv[0] = group;
	}
	if ((ctl.cmd = ctl_find_command(argv[0])) == NULL)
		command_usage(&ctl, "unknown command: %s", argv[0]);
	optind = 0;  /* glibc: 0 reinitializes getopt for the handler */
	status = ctl.cmd->run(&ctl, argc, argv);
	ctl_flush(&ctl);
	if (ctl.rpc != NULL)
		rpc_client_close(ctl.rpc);
	return status;
}
