/* Serial ports of a running VM.  Each port, whatever its type, is a QEMU
 * socket chardev that vmd made and connected before QEMU ran.  console and
 * tcp ports also get a journal (QEMU's logfile=) named after the log
 * offset its first byte will have, so a later vmd can tell which of its
 * bytes the log already holds; see console.c. */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon/conlog.h"
#include "daemon/console.h"
#include "daemon/hostdev.h"
#include "daemon/log.h"
#include "daemon/ports.h"
#include "daemon/server.h"
#include "daemon/vmd.h"

int ports_count(const struct vm *vm)
{
	struct json_object *serial;

	if (!json_object_object_get_ex(vm->config, "serial", &serial))
		return 1;
	return (int)json_object_array_length(serial);
}

struct json_object *ports_cfg(const struct vm *vm, int i)
{
	struct json_object *serial;

	if (!json_object_object_get_ex(vm->config, "serial", &serial))
		return NULL;
	return json_object_array_get_idx(serial, (size_t)i);
}

static const char *cfg_str(struct json_object *cfg, const char *key,
			   const char *dflt)
{
	struct json_object *v;

	return cfg && json_object_object_get_ex(cfg, key, &v) ?
	       json_object_get_string(v) : dflt;
}

static int cfg_int(struct json_object *cfg, const char *key, int dflt)
{
	struct json_object *v;

	return cfg && json_object_object_get_ex(cfg, key, &v) ?
	       json_object_get_int(v) : dflt;
}

const char *ports_type(const struct vm *vm, int i)
{
	return cfg_str(ports_cfg(vm, i), "type", "console");
}

static void log_dir(const struct vm *vm, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/logs", vmd.state_dir);
	mkdir(buf, 0700);
	snprintf(buf, cap, "%s/logs/%s", vmd.state_dir, vm->uuid);
}

/* Journals of port i left in the run dir; calls fn with each path and
 * base.  Returns how many. */
static int find_journals(const struct vm *vm, int i,
			 void (*fn)(const char *path, uint64_t base, void *ctx),
			 void *ctx)
{
	char prefix[32], tail[16], path[4096];
	DIR *dp = opendir(vm->run_dir);
	struct dirent *d;
	int n = 0;

	if (!dp)
		return 0;
	snprintf(prefix, sizeof prefix, "console%d.", i);
	while ((d = readdir(dp))) {
		uint64_t base;
		if (strncmp(d->d_name, prefix, strlen(prefix)) ||
		    sscanf(d->d_name + strlen(prefix), "%" SCNu64 "%15s", &base,
			   tail) != 2 || strcmp(tail, ".journal"))
			continue;
		snprintf(path, sizeof path, "%s/%s", vm->run_dir, d->d_name);
		fn(path, base, ctx);
		n++;
	}
	closedir(dp);
	return n;
}

static void unlink_journal(const char *path, uint64_t base, void *ctx)
{
	char map[4200];

	unlink(path);
	snprintf(map, sizeof map, "%s.map", path);  /* see journal.c */
	unlink(map);
}

static int tcp_listen(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 16) == 0)
		return fd;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static int prepare_one(struct vm *vm, struct port_plan *pl, int i, struct call *c)
{
	struct json_object *cfg = ports_cfg(vm, i);
	const char *type = ports_type(vm, i);
	char err[512], dir[4096];

	if (!strcmp(type, "host")) {
		if (hostdev_check(cfg, err, sizeof err) == 0)
			return 0;
		call_error(c, RPC_INVALID_ARGUMENT, "VM '%s': serial port %d: %s",
			   vm->name, i, err);
		return -1;
	}
	if (!strcmp(type, "tcp") &&
	    (pl->tcp_fd[i] = tcp_listen(cfg_int(cfg, "port", 0))) < 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "VM '%s': serial port %d: "
			   "127.0.0.1:%d: %s", vm->name, i, cfg_int(cfg, "port", 0),
			   strerror(errno));
		return -1;
	}
	log_dir(vm, dir, sizeof dir);
	pl->base[i] = conlog_size(dir, i);
	find_journals(vm, i, unlink_journal, NULL);
	if (asprintf(&pl->journal[i], "%s/console%d.%016" PRIu64 ".journal",
		     vm->run_dir, i, pl->base[i]) < 0) {
		pl->journal[i] = NULL;
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	return 0;
}

/* Parallel ports go to QEMU as they are; a clear error beats QEMU's. */
static int check_parallel(struct vm *vm, struct call *c)
{
	struct json_object *par;
	struct stat st;

	if (!json_object_object_get_ex(vm->config, "parallel", &par))
		return 0;
	for (size_t i = 0; i < json_object_array_length(par); i++) {
		const char *path = cfg_str(json_object_array_get_idx(par, i), "path", "");
		const char *why = stat(path, &st) < 0 ? strerror(errno) :
				  !S_ISCHR(st.st_mode) ? "not a character device" : NULL;
		if (why) {
			call_error(c, RPC_INVALID_ARGUMENT, "VM '%s': parallel port "
				   "%zu: %s: %s", vm->name, i, path, why);
			return -1;
		}
	}
	return 0;
}

int ports_prepare(struct vm *vm, struct port_plan *pl, struct call *c)
{
	memset(pl, 0, sizeof *pl);
	if (check_parallel(vm, c) < 0)
		return -1;
	pl->n = ports_count(vm);
	for (int i = 0; i < VM_MAX_SERIAL; i++)
		pl->tcp_fd[i] = -1;
	for (int i = 0; i < pl->n; i++)
		if (prepare_one(vm, pl, i, c) < 0) {
			ports_plan_free(pl);
			return -1;
		}
	return 0;
}

void ports_plan_free(struct port_plan *pl)
{
	for (int i = 0; i < VM_MAX_SERIAL; i++) {
		free(pl->journal[i]);
		pl->journal[i] = NULL;
		if (pl->tcp_fd[i] >= 0)
			close(pl->tcp_fd[i]);
		pl->tcp_fd[i] = -1;
	}
}

static void open_console(struct vm *vm, int i, int fd, const char *journal,
			 uint64_t base, int tcp_fd)
{
	struct json_object *cfg = ports_cfg(vm, i);
	char dir[4096], err[512];
	struct console_params p = {
		.vm = vm->name, .uuid = vm->uuid, .port = i,
		.scrollback = (size_t)cfg_int(cfg, "scrollback_kib", 256) * 1024,
		.log_max = (size_t)cfg_int(cfg, "log_kib", 4096) * 1024,
		.log_count = cfg_int(cfg, "log_count", 4),
		.log_dir = dir, .journal = journal, .journal_base = base,
		.tcp_fd = tcp_fd,
	};

	log_dir(vm, dir, sizeof dir);
	vm->console[i] = console_open(fd, &p, err, sizeof err);
	if (!vm->console[i])
		log_vm(LOG_ERR, vm->name, vm->uuid, "serial port %d: %s", i, err);
}

void ports_open(struct vm *vm, struct port_plan *pl, int *conn_fds)
{
	for (int i = 0; i < pl->n; i++) {
		if (!strcmp(ports_type(vm, i), "host")) {
			vm->hostdev[i] = hostdev_open(conn_fds[i], vm->name, vm->uuid,
						      i, ports_cfg(vm, i));
		} else {
			open_console(vm, i, conn_fds[i], pl->journal[i], pl->base[i],
				     pl->tcp_fd[i]);
			pl->tcp_fd[i] = -1;  /* the console owns it now */
		}
		conn_fds[i] = -1;
	}
}

void ports_close(struct vm *vm)
{
	for (int i = 0; i < VM_MAX_SERIAL; i++) {
		console_close(vm->console[i]);
		vm->console[i] = NULL;
		hostdev_close(vm->hostdev[i]);
		vm->hostdev[i] = NULL;
	}
}

struct found {
	char *path;
	uint64_t base;
};

static void keep_newest(const char *path, uint64_t base, void *ctx)
{
	struct found *f = ctx;

	if (f->path && base < f->base)
		return;
	free(f->path);
	f->path = strdup(path);
	f->base = base;
}

void ports_adopt_open(struct vm *vm)
{
	for (int i = 0; i < ports_count(vm); i++) {
		const char *type = ports_type(vm, i);
		struct found f = {0};
		int tcp_fd = -1;
		if (!strcmp(type, "host"))
			continue;
		find_journals(vm, i, keep_newest, &f);
		if (!strcmp(type, "tcp") &&
		    (tcp_fd = tcp_listen(cfg_int(ports_cfg(vm, i), "port", 0))) < 0)
			log_vm(LOG_ERR, vm->name, vm->uuid, "serial port %d: tcp port "
			       "%d: %s", i, cfg_int(ports_cfg(vm, i), "port", 0),
			       strerror(errno));
		open_console(vm, i, -1, f.path, f.base, tcp_fd);
		free(f.path);
	}
}

static int connect_port(const struct vm *vm, int i)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/console%d.sock", vm->run_dir, i);
	return vm_unix_socket(path, false);
}

void ports_adopt_connect(struct vm *vm)
{
	for (int i = 0; i < ports_count(vm); i++) {
		int fd = connect_port(vm, i);
		if (fd < 0) {
			log_vm(LOG_ERR, vm->name, vm->uuid, "serial port %d: cannot "
			       "reconnect: %s", i, strerror(errno));
			continue;
		}
		if (!strcmp(ports_type(vm, i), "host")) {
			vm->hostdev[i] = hostdev_open(fd, vm->name, vm->uuid, i,
						      ports_cfg(vm, i));
		} else if (vm->console[i]) {
			console_catch_up(vm->console[i]);
			console_connect(vm->console[i], fd);
		} else {
			close(fd);
		}
	}
}
