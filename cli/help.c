/* vmctl's usage and help, generated from the command table: the usage on
 * errors, `vmctl help` (every command with one line), and `vmctl help CMD`
 * or `vmctl CMD --help` (its usage, what each operand and option does, and
 * notes such as the TIME format).  Text is wrapped to the terminal. */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/commands.h"

#define GLOBAL_USAGE "[-s SOCKET] [--json] [--timeout SEC] COMMAND [ARG ...]"

static const struct ctl_opt global_opts[] = {
	{ "-s, --socket SOCKET", "connect to SOCKET instead of the default: "
	  "$VMD_SOCKET, /run/vmd/vmd.sock for root, else "
	  "$XDG_RUNTIME_DIR/vmd/vmd.sock or /tmp/vmd-UID/vmd.sock" },
	{ "-j, --json", "print the protocol's return value (or error) as JSON" },
	{ "-t, --timeout SEC", "wait at most SEC seconds for vmd's answers; "
	  "0 waits forever; default 120" },
	{ "-h, --help", "print this help" },
	{ "-V, --version", "print vmctl's version" },
	{ NULL, NULL }
};

/* $COLUMNS, else the terminal's width, else 80; never below 40. */
int help_width(FILE *f)
{
	const char *env = getenv("COLUMNS");
	struct winsize ws;
	char *end;
	long w = 0;

	if (env != NULL && *env != '\0') {
		w = strtol(env, &end, 10);
		if (*end != '\0')
			w = 0;
	}
	if (w <= 0 && isatty(fileno(f)) &&
	    ioctl(fileno(f), TIOCGWINSZ, &ws) == 0)
		w = ws.ws_col;
	if (w <= 0)
		w = 80;
	return w < 40 ? 40 : w > 1000 ? 1000 : (int)w;
}

/* Length of the word at s: up to a space outside brackets, so that an
 * option group such as "[--port N]" never breaks. */
static int word_len(const char *s)
{
	int n = 0, depth = 0;

	for (; s[n] != '\0' && (s[n] != ' ' || depth > 0); n++)
		depth += (s[n] == '[') - (s[n] == ']');
	return n;
}

/* Print text's words from column col on, breaking lines before width and
 * starting each new one at column indent; then a newline.  A word longer
 * than a line gets a line of its own. */
static void wrap(FILE *f, const char *text, int col, int indent, int width)
{
	int first = 1;

	text += strspn(text, " ");
	while (*text) {
		int n = word_len(text);

		if (!first && col + 1 + n > width) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', f);
			col++;
		}
		fwrite(text, 1, (size_t)n, f);
		col += n;
		first = 0;
		text += n;
		text += strspn(text, " ");
	}
	fputc('\n', f);
}

void help_usage_line(FILE *f, const struct ctl_cmd *cmd)
{
	int col = fprintf(f, "usage: vmctl %s", cmd->name);

	if (*cmd->args)
		fputc(' ', f);
	wrap(f, cmd->args, col + 1, col + 1, help_width(f));
}

void help_usage(FILE *f)
{
	int width = help_width(f);

	wrap(f, "usage: vmctl " GLOBAL_USAGE, 0, 13, width);
	for (size_t i = 0; i < ctl_ncommands; i++) {
		const struct ctl_cmd *c = &ctl_commands[i];
		int col = fprintf(f, "       vmctl %s", c->name);

		if (*c->args)
			fputc(' ', f);
		wrap(f, c->args, col + 1, col + 1, width);
	}
}

/* Rows of "  FLAGS  what it does", the second column wrapped.  Flags too
 * wide for the column, or a column too narrow for long words, put the text
 * on the next line. */
static void print_opts(FILE *f, const struct ctl_opt *opts, int width)
{
	int left = 0, indent;

	for (size_t i = 0; opts[i].flags != NULL; i++) {
		int n = (int)strlen(opts[i].flags);

		if (n > left && n <= 22)
			left = n;
	}
	indent = width - (left + 4) >= 32 ? left + 4 : 6;
	for (size_t i = 0; opts[i].flags != NULL; i++) {
		int col = fprintf(f, "  %s", opts[i].flags);

		if (col > indent - 2) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else {
			col += fprintf(f, "%*s", indent - col, "");
		}
		wrap(f, opts[i].help, col, indent, width);
	}
}

void help_all(FILE *f)
{
	int width = help_width(f), left = 0;

	wrap(f, "usage: vmctl " GLOBAL_USAGE, 0, 13, width);
	fputc('\n', f);
	wrap(f, "global options (before the command; the long forms also "
	     "after it):", 0, 0, width);
	print_opts(f, global_opts, width);
	fprintf(f, "\ncommands:\n");
	for (size_t i = 0; i < ctl_ncommands; i++)
		if ((int)strlen(ctl_commands[i].name) > left)
			left = (int)strlen(ctl_commands[i].name);
	for (size_t i = 0; i < ctl_ncommands; i++) {
		int col = fprintf(f, "  %-*s  ", left, ctl_commands[i].name);

		wrap(f, ctl_commands[i].help, col, col, width);
	}
	fputc('\n', f);
	wrap(f, "vmctl help COMMAND (or vmctl COMMAND --help) explains a "
	     "command's arguments and options.  See vmctl(1) for details.",
	     0, 0, width);
}

void help_command(FILE *f, const struct ctl_cmd *cmd)
{
	int width = help_width(f);
	char line[256];

	help_usage_line(f, cmd);
	fputc('\n', f);
	snprintf(line, sizeof(line), "%s.", cmd->help);
	line[0] = (char)toupper((unsigned char)line[0]);
	wrap(f, line, 0, 0, width);
	if (cmd->opts != NULL) {
		fputc('\n', f);
		print_opts(f, cmd->opts, width);
	}
	if (cmd->more != NULL) {
		fputc('\n', f);
		wrap(f, cmd->more, 0, 0, width);
	}
	fputc('\n', f);
	wrap(f, "Global options go before the command, or after it in their "
	     "long form: --socket SOCKET, --json, --timeout SEC (see vmctl "
	     "help).", 0, 0, width);
}

static void print_command_map(void)
{
	for (size_t i = 0; i < ctl_ncommands; i++)
		printf("%s %s\n", ctl_commands[i].name,
		       ctl_commands[i].protocol ? ctl_commands[i].protocol : "-");
}

/* help [--commands] [COMMAND]: the table is the documentation. */
int cmd_help(struct ctl *ctl, int argc, char **argv)
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
		if ((cmd = ctl_find_command(argv[optind])) == NULL)
			ctl_usage(ctl, "unknown command: %s", argv[optind]);
		help_command(stdout, cmd);
	} else {
		help_all(stdout);
	}
	return 0;
}
