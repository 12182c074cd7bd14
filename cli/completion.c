/* vmctl completion bash: a bash completion script made from the command
 * table, so it knows every command, option and operand vmctl has.  Per
 * command it takes the option words of its ctl_opt rows ("-f, --follow"),
 * which of them take a value ("--port N"), and the kinds of its operands in
 * order: VM (names from `vmctl list`), FILE.json (file names), COMMAND
 * (vmctl's commands), SHELL. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const char script_head[] =
"# bash completion for vmctl(1), made by \"vmctl completion bash\" from\n"
"# vmctl's command table.\n"
"_vmctl_vms()\n"
"{\n"
"\t\"$1\" \"${@:2}\" list 2>/dev/null | awk 'NR > 1 { print $1 }'\n"
"}\n"
"\n"
"_vmctl()\n"
"{\n"
"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= word opts= argopts=\n"
"\tlocal operands= i n=0\n"
"\tlocal -a global=()\n"
"\tCOMPREPLY=()\n"
"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
"\t\tword=${COMP_WORDS[i]}\n"
"\t\tif [[ -z $cmd ]]; then\n"
"\t\t\tcase $word in\n"
"\t\t\t-s|--socket) global+=(-s \"${COMP_WORDS[i+1]}\"); ((i++)) ;;\n"
"\t\t\t-t|--timeout) ((i++)) ;;\n"
"\t\t\t-*) ;;\n"
"\t\t\t*) cmd=$word; _vmctl_$cmd 2>/dev/null || return 0 ;;\n"
"\t\t\tesac\n"
"\t\telif [[ \" $argopts \" == *\" $word \"* ]]; then\n"
"\t\t\t((i++))\n"
"\t\telif [[ $word != -* ]]; then\n"
"\t\t\t((n++))\n"
"\t\tfi\n"
"\tdone\n"
"\t((COMP_CWORD > 1)) && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
"\tif [[ -z $cmd ]]; then\n"
"\t\tcase $prev in -s|--socket|-t|--timeout) return 0 ;; esac\n"
"\t\tif [[ $cur == -* ]]; then\n"
"\t\t\tCOMPREPLY=($(compgen -W \"--socket --json --timeout --help --version\" -- \"$cur\"))\n"
"\t\telse\n"
"\t\t\tCOMPREPLY=($(compgen -W \"$_vmctl_commands\" -- \"$cur\"))\n"
"\t\tfi\n"
"\t\treturn 0\n"
"\tfi\n"
"\t[[ \" $argopts \" == *\" $prev \"* ]] && return 0\n"
"\tif [[ $cur == -* ]]; then\n"
"\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
"\t\treturn 0\n"
"\tfi\n"
"\tset -- $operands\n"
"\tshift $n 2>/dev/null || return 0\n"
"\tcase $1 in\n"
"\tVM) COMPREPLY=($(compgen -W \"$(_vmctl_vms \"${COMP_WORDS[0]}\" \"${global[@]}\")\" -- \"$cur\")) ;;\n"
"\tFILE*) compopt -o filenames 2>/dev/null\n"
"\t\tCOMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
"\tCOMMAND) COMPREPLY=($(compgen -W \"$_vmctl_commands\" -- \"$cur\")) ;;\n"
"\tSHELL) COMPREPLY=($(compgen -W \"bash\" -- \"$cur\")) ;;\n"
"\tesac\n"
"\treturn 0\n"
"}\n";

/* The words of flags ("-f, --follow" -> "-f --follow"), appended to buf;
 * with value_only, only when the flag takes a value ("--port N"). */
static void flag_words(char *buf, size_t len, const char *flags, int value_only)
{
	char copy[128], *tok, *save;
	int takes = strchr(flags, ' ') != NULL &&
		    flags[strcspn(flags, " ") + 1] != '-';

	if (value_only && !takes)
		return;
	snprintf(copy, sizeof(copy), "%s", flags);
	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save))
		if (tok[0] == '-')
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
				 *buf ? " " : "", tok);
}

/* A flag word the command's own rows define. */
static int own_flag(const struct ctl_cmd *cmd, const char *word)
{
	char words[512] = "", pad[140];

	for (size_t i = 0; cmd->opts != NULL && cmd->opts[i].flags; i++)
		flag_words(words, sizeof(words), cmd->opts[i].flags, 0);
	snprintf(pad, sizeof(pad), " %s ", word);
	memmove(words + 1, words, strlen(words) + 1);
	words[0] = ' ';
	strncat(words, " ", sizeof(words) - strlen(words) - 1);
	return strstr(words, pad) != NULL;
}

/* _vmctl_CMD: sets opts, argopts and operands for one command. */
static void print_command(const struct ctl_cmd *cmd)
{
	static const char *const globals[] = { "--json", "--socket",
					       "--timeout", NULL };
	char opts[512] = "", argopts[256] = "", operands[256] = "";

	for (size_t i = 0; cmd->opts != NULL && cmd->opts[i].flags; i++) {
		const char *f = cmd->opts[i].flags;

		if (f[0] != '-') {
			snprintf(operands + strlen(operands),
				 sizeof(operands) - strlen(operands), "%s%s",
				 *operands ? " " : "", f);
			continue;
		}
		flag_words(opts, sizeof(opts), f, 0);
		flag_words(argopts, sizeof(argopts), f, 1);
	}
	for (size_t g = 0; globals[g] != NULL; g++)
		if (!own_flag(cmd, globals[g]))
			snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
				 "%s%s", *opts ? " " : "", globals[g]);
	if (!own_flag(cmd, "--socket"))
		snprintf(argopts + strlen(argopts), sizeof(argopts) -
			 strlen(argopts), "%s--socket", *argopts ? " " : "");
	if (!own_flag(cmd, "--timeout"))
		snprintf(argopts + strlen(argopts), sizeof(argopts) -
			 strlen(argopts), " --timeout");
	printf("_vmctl_%s()\n{\n\topts=\"%s --help\"\n\targopts=\"%s\"\n"
	       "\toperands=\"%s\"\n}\n", cmd->name, opts, argopts, operands);
}

static void print_bash(void)
{
	fputs(script_head, stdout);
	printf("_vmctl_commands=\"");
	for (size_t i = 0; i < ctl_ncommands; i++)
		printf("%s%s", i ? " " : "", ctl_commands[i].name);
	printf("\"\n");
	for (size_t i = 0; i < ctl_ncommands; i++)
		print_command(&ctl_commands[i]);
	printf("complete -F _vmctl vmctl\n");
}

int cmd_completion(struct ctl *ctl, int argc, char **argv)
{
	static const struct option no_options[] = { { NULL, 0, NULL, 0 } };

	while (ctl_getopt(ctl, argc, argv, "", no_options) != -1)
		;
	ctl_operands(ctl, argc, 1, 1);
	if (strcmp(argv[optind], "bash") != 0)
		ctl_usage(ctl, "unknown shell: %s (bash is the only one so far)",
			  argv[optind]);
	print_bash();
	return 0;
}
