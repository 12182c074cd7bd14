/* Which emulators this host has (see emu/emulator.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu/emulator.h"
#include "emu/probe.h"

int emu_qemu_option(const char *opt, const struct emu_arch **arch,
		    const char **path)
{
	const char *eq = strchr(opt, '=');
	size_t n = eq ? (size_t)(eq - opt) : 0;
	size_t count;
	const struct emu_arch *all = emu_arch_all(&count);

	*arch = NULL;
	*path = opt;
	/* A path may hold '=' too, but never before its first '/'. */
	if (!eq || memchr(opt, '/', n))
		return 0;
	for (size_t i = 0; i < count; i++)
		if (strlen(all[i].name) == n && !strncmp(opt, all[i].name, n)) {
			*arch = &all[i];
			*path = eq + 1;
			return 0;
		}
	return -1;
}

char *emu_qemu_for_arch(const char *arch, const char *default_qemu)
{
	const char *slash;
	char *path;

	if (!arch || !*arch)
		arch = "x86_64";
	/* The arch becomes part of a file name: allow only what real QEMU
	 * target names use. */
	for (const char *c = arch; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		      *c == '_'))
			return NULL;
	/* The configured binary is the x86_64 one, whatever its name. */
	if (strcmp(arch, "x86_64") == 0 && default_qemu && *default_qemu)
		return strdup(default_qemu);
	slash = default_qemu ? strrchr(default_qemu, '/') : NULL;
	if (slash) {
		if (asprintf(&path, "%.*s/qemu-system-%s",
			     (int)(slash - default_qemu), default_qemu, arch) < 0)
			return NULL;
	} else if (asprintf(&path, "/usr/bin/qemu-system-%s", arch) < 0) {
		return NULL;
	}
	return path;
}

char *emu_qemu_path(const char *arch, char *const *set,
		    const char *default_qemu)
{
	size_t n;
	const struct emu_arch *all = emu_arch_all(&n), *a = emu_arch(arch);

	if (a && set[a - all])
		return strdup(set[a - all]);
	return emu_qemu_for_arch(arch, default_qemu);
}

/* "Supported machines are:\npc   Standard PC ...\n..." -> ["pc", ...] */
static struct json_object *machine_names(const char *text)
{
	struct json_object *list = json_object_new_array();
	const char *line = strchr(text, '\n');

	while (line && *++line) {
		size_t n = strcspn(line, " \n");
		if (n)
			json_object_array_add(list,
				json_object_new_string_len(line, (int)n));
		line = strchr(line, '\n');
	}
	return list;
}

/* One emulator, asked: NULL when its binary does not run. */
static struct json_object *ask(const struct emu_arch *a, const char *path,
			       const char *scratch)
{
	static char text[65536];
	char version[64];
	struct json_object *e;

	if (!path || access(path, X_OK) < 0)
		return NULL;
	emu_qemu_version(path, scratch, version, sizeof version);
	if (!version[0] ||
	    emu_probe_output(path, "-machine", "help", scratch, text,
			     sizeof text) < 0)
		return NULL;
	e = json_object_new_object();
	json_object_object_add(e, "arch", json_object_new_string(a->name));
	json_object_object_add(e, "path", json_object_new_string(path));
	json_object_object_add(e, "version", json_object_new_string(version));
	json_object_object_add(e, "machines", machine_names(text));
	return e;
}

/* The cached entry for path when its key still matches. */
static struct json_object *cached(struct json_object *cache, const char *key)
{
	struct json_object *e, *k;

	if (!cache || !json_object_object_get_ex(cache, key, &e) ||
	    !json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "key", &k) ||
	    !json_object_is_type(k, json_type_string))
		return NULL;
	return e;
}

struct json_object *emu_emulators(char *const *paths, const char *scratch,
				  const char *cache_path)
{
	struct json_object *list = json_object_new_array();
	struct json_object *cache = cache_path ?
		json_object_from_file(cache_path) : NULL;
	struct json_object *fresh = json_object_new_object();
	size_t n;
	const struct emu_arch *all = emu_arch_all(&n);
	char key[4200];

	if (cache && !json_object_is_type(cache, json_type_object)) {
		json_object_put(cache);
		cache = NULL;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *e, *k;

		emu_probe_cache_key(paths[i], key, sizeof key);
		e = cached(cache, all[i].name);
		if (e && json_object_object_get_ex(e, "key", &k) &&
		    !strcmp(json_object_get_string(k), key)) {
			json_object_get(e);
			json_object_object_del(e, "key");
		} else {
			e = ask(&all[i], paths[i], scratch);
		}
		if (!e)
			continue;
		json_object_array_add(list, e);
		struct json_object *c = json_object_new_object();
		json_object_object_foreach(e, name, val)
			json_object_object_add(c, name, json_object_get(val));
		json_object_object_add(c, "key", json_object_new_string(key));
		json_object_object_add(fresh, all[i].name, c);
	}
	if (cache_path) {
		char tmp[4200];
		/* vmds sharing one cache (tests) never write one tmp file */
		snprintf(tmp, sizeof tmp, "%s.%d.tmp", cache_path, (int)getpid());
		if (json_object_to_file(tmp, fresh) < 0 || rename(tmp, cache_path) < 0)
			unlink(tmp);
	}
	json_object_put(fresh);
	json_object_put(cache);
	return list;
}
