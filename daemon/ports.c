/* Serial ports of a running VM.  Each port, whatever its type, is a QEMU
 * socket chardev that vmd made and connected before QEMU ran.  console and
 * tcp ports are handed to the VM's keeper (keeper.h), with a journal
 * named after the log offset its first byte will have, and vmd connects to
 * the keeper; host ports are relayed by vmd itself (hostdev.c). */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon/access.h"
#include "console/conlog.h"
#include "console/console.h"
#include "console/hostdev.h"
#include "keeper/keeper.h"
#include "keeper/launch.h"
#include "daemon/log.h"
#include "daemon/ports.h"
#include "rpc/schema.h"
#include "console/tcpgate.h"
#include "daemon/vm_config.h"
#include "daemon/vmd.h"
#include "daemon/vm_paths.h"
#include "emu/spawn.h"

int ports_count(const struct vm *vm)
{
	struct json_object *serial;

	/* "serial" is always there: vm-config.json gives its default */
	if (!json_object_object_get_ex(vm_live_config(vm), "serial", &serial))
		return 0;
	return (int)json_object_array_length(serial);
}

struct json_object *ports_cfg(const struct vm *vm, int i)
{
	struct json_object *serial;

	if (!json_object_object_get_ex(vm_live_config(vm), "serial", &serial))
		return NULL;
	return json_object_array_get_idx(serial, (size_t)i);
}

const char *ports_type(const struct vm *vm, int i)
{
	const char *type = rpc_member_str(ports_cfg(vm, i), "type");

	return type ? type : "";  /* no such port */
}

struct json_object *ports_describe(const struct vm *vm, int role)
{
	bool admin = role >= ROLE_ADMIN;

	struct json_object *a = json_object_new_array();

	for (int i = 0; i < ports_count(vm) && i < VMD_SERIAL_MAX; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "port", json_object_new_int(i));
		json_object_object_add(o, "type", json_object_new_string(ports_type(vm, i)));
		if (vm->console[i])
			console_describe(vm->console[i], o, admin);
		if (vm->hostdev[i])
			hostdev_describe(vm->hostdev[i], o);
		json_object_array_add(a, o);
	}
	return a;
}

static void log_dir(const struct vm *vm, char *buf, size_t cap)
{
	vm_log_dir_path(buf, cap, vmd.state_dir, NULL);
	mkdir(buf, 0700);
	vm_log_dir_path(buf, cap, vmd.state_dir, vm->uuid);
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
			   tail) != 2 || strcmp(tail, "." VM_PORT_JOURNAL))
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
	unlink(path);
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

/* A fresh journal name for port i, its base the log's end; older
 * journals go. */
static char *new_journal(const struct vm *vm, int i, uint64_t *base)
{
	char dir[4096], path[4096];

	log_dir(vm, dir, sizeof dir);
	*base = conlog_size(dir, i);
	find_journals(vm, i, unlink_journal, NULL);
	vm_journal_path(path, sizeof path, vm->run_dir, i, *base);
	return strdup(path);
}

/* A tcp port's listener and secret are kept in RUN_DIR/consoleN.tcp
 * ("PORT SECRET", "-" for none), so that a vmd restarted while the guest
 * runs listens on the same port (also a random one) with the same secret. */
static void tcp_file(const struct vm *vm, int i, char *buf, size_t cap)
{
	vm_port_path(buf, cap, vm->run_dir, i, VM_PORT_TCP);
}

static int save_tcp(const struct vm *vm, int i, int port, const char *secret)
{
	char path[4096];
	FILE *f;
	int ok;

	tcp_file(vm, i, path, sizeof path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ok = fprintf(f, "%d %s\n", port, secret[0] ? secret : "-") > 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int load_tcp(const struct vm *vm, int i, int *port, char *secret)
{
	char path[4096], s[40];
	FILE *f;
	int n;

	tcp_file(vm, i, path, sizeof path);
	if (!(f = fopen(path, "re")))
		return -1;
	n = fscanf(f, "%d %39s", port, s);
	fclose(f);
	if (n != 2 || *port <= 0 || *port > 65535 ||
	    (strcmp(s, "-") && strlen(s) != TCPGATE_SECRET_LEN))
		return -1;
	strcpy(secret, strcmp(s, "-") ? s : "");
	return 0;
}

static bool wants_auth(const struct vm *vm, int i)
{
	return strcmp(rpc_member_str(ports_cfg(vm, i), "auth"), "none") != 0;
}

static int bound_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;

	return getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ? 0 :
	       ntohs(sa.sin_port);
}

static int prepare_tcp(struct vm *vm, struct port_plan *pl, int i,
		       struct rpc_fault *f)
{
	int port = (int)rpc_member_int(ports_cfg(vm, i), "port");

	if ((pl->tcp_fd[i] = tcp_listen(port)) < 0) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "VM '%s': serial port %d: "
			      "127.0.0.1:%d: %s", vm->name, i, port, strerror(errno));
		return -1;
	}
	pl->secret[i][0] = '\0';
	if (wants_auth(vm, i) && tcpgate_make_secret(pl->secret[i]) < 0) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "VM '%s': serial port %d: no "
			      "random bytes for its secret: %s", vm->name, i,
			      strerror(errno));
		return -1;
	}
	if (save_tcp(vm, i, bound_port(pl->tcp_fd[i]), pl->secret[i]) < 0) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "VM '%s': serial port %d: "
			      "cannot write %s/console%d.tcp: %s", vm->name, i,
			      vm->run_dir, i, strerror(errno));
		return -1;
	}
	return 0;
}

static int prepare_one(struct vm *vm, struct port_plan *pl, int i,
		       struct rpc_fault *f)
{
	struct json_object *cfg = ports_cfg(vm, i);
	const char *type = ports_type(vm, i);
	char err[512];

	if (!strcmp(type, "host")) {
		if (hostdev_check(cfg, vm_qemu_user(), err, sizeof err) == 0)
			return 0;
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "VM '%s': serial port %d: %s",
			      vm->name, i, err);
		return -1;
	}
	if (!strcmp(type, "tcp") && prepare_tcp(vm, pl, i, f) < 0)
		return -1;
	if (!(pl->journal[i] = new_journal(vm, i, &pl->base[i]))) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	return 0;
}

/* Parallel ports go to QEMU as they are; a clear error beats QEMU's. */
static int check_parallel(struct vm *vm, struct rpc_fault *f)
{
	struct json_object *par;
	struct stat st;

	if (!json_object_object_get_ex(vm_live_config(vm), "parallel", &par))
		return 0;
	for (size_t i = 0; i < json_object_array_length(par); i++) {
		const char *path = rpc_member_str(json_object_array_get_idx(par, i), "path");
		const char *why = stat(path, &st) < 0 ? strerror(errno) :
				  !S_ISCHR(st.st_mode) ? "not a character device" : NULL;
		if (why) {
			rpc_fault_set(f, RPC_INVALID_ARGUMENT, "VM '%s': parallel "
				      "port %zu: %s: %s", vm->name, i, path, why);
			return -1;
		}
	}
	return 0;
}

int ports_prepare(struct vm *vm, struct port_plan *pl, struct rpc_fault *f)
{
	memset(pl, 0, sizeof *pl);
	if (check_parallel(vm, f) < 0)
		return -1;
	pl->n = ports_count(vm);
	for (int i = 0; i < VMD_SERIAL_MAX; i++)
		pl->tcp_fd[i] = -1;
	for (int i = 0; i < pl->n; i++)
		if (prepare_one(vm, pl, i, f) < 0) {
			ports_plan_free(pl);
			return -1;
		}
	return 0;
}

void ports_plan_free(struct port_plan *pl)
{
	for (int i = 0; i < VMD_SERIAL_MAX; i++) {
		free(pl->journal[i]);
		pl->journal[i] = NULL;
		if (pl->tcp_fd[i] >= 0)
			close(pl->tcp_fd[i]);
		pl->tcp_fd[i] = -1;
	}
}

static void keeper_lost(void *ctx, int port);

static void open_console(struct vm *vm, int i, int fd, const char *journal,
			 uint64_t base, int tcp_fd, const char *secret)
{
	struct json_object *cfg = ports_cfg(vm, i);
	char dir[4096], err[512];
	struct console_params p = {
		.vm = vm->name, .uuid = vm->uuid, .port = i,
		.scrollback = (size_t)rpc_member_int(cfg, "scrollback_kib") * 1024,
		.log_max = (size_t)rpc_member_int(cfg, "log_kib") * 1024,
		.log_count = (int)rpc_member_int(cfg, "log_count"),
		.log_dir = dir, .journal = journal, .journal_base = base,
		.tcp_fd = tcp_fd, .secret = secret && secret[0] ? secret : NULL,
		.lost = keeper_lost, .lost_ctx = vm,
	};

	log_dir(vm, dir, sizeof dir);
	vm->console[i] = console_open(fd, &p, err, sizeof err);
	if (!vm->console[i])
		log_vm(LOG_ERR, vm->name, vm->uuid, "serial port %d: %s", i, err);
}

static bool is_kept(const struct vm *vm, int i)
{
	return strcmp(ports_type(vm, i), "host") != 0;
}

static void keeper_sock(const struct vm *vm, int i, char *buf, size_t cap)
{
	vm_port_path(buf, cap, vm->run_dir, i, VM_PORT_KEEP);
}

/* The keeper's side of port i: the socket vmd will connect to and the
 * journal; qfd is QEMU's connection. */
static int keeper_port(const struct vm *vm, int i, int qfd, const char *journal,
		       struct keeper_port *k)
{
	char path[4096];

	keeper_sock(vm, i, path, sizeof path);
	*k = (struct keeper_port){.port = i, .qemu_fd = qfd, .listen_fd = -1,
				  .journal_fd = -1};
	if ((k->listen_fd = vm_unix_socket(path, true)) < 0 ||
	    (k->journal_fd = open(journal, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
				  0600)) < 0)
		return -1;
	return 0;
}

/* Start the keeper of every port i with qfd[i] >= 0 (each connected to
 * QEMU's socket of port i, consumed), journaling into journal[i].  Its pid,
 * 0 when no port needs one, or -1. */
static pid_t keeper_start(const struct vm *vm, int *qfd, char *const *journal,
			char *err, size_t errlen)
{
	struct keeper_port k[VMD_SERIAL_MAX];
	char log_path[4096];
	pid_t pid = -1;
	int n = 0, rc = 0;

	for (int i = 0; i < VMD_SERIAL_MAX && rc == 0; i++)
		if (qfd[i] >= 0 && (rc = keeper_port(vm, i, qfd[i], journal[i],
						     &k[n++])) < 0)
			snprintf(err, errlen, "serial port %d: %s", i, strerror(errno));
	vm_run_path(log_path, sizeof log_path, vm->run_dir, VM_RUN_KEEPER_LOG);
	if (rc == 0 && n == 0)
		pid = 0;  /* host ports only: vmd relays those itself */
	else if (rc == 0)
		pid = keeper_launch(vm->run_dir, vm_qemu_user(), k, n, log_path,
				    err, errlen);
	for (int j = 0; j < n; j++) {
		if (k[j].listen_fd >= 0)
			close(k[j].listen_fd);
		if (k[j].journal_fd >= 0)
			close(k[j].journal_fd);
	}
	for (int i = 0; i < VMD_SERIAL_MAX; i++) {
		if (qfd[i] >= 0)
			close(qfd[i]);
		qfd[i] = -1;
	}
	return pid;
}

int ports_start_keeper(struct vm *vm, struct port_plan *pl, int *conn_fds,
		       struct rpc_fault *f)
{
	int qfd[VMD_SERIAL_MAX];
	char err[1024];

	for (int i = 0; i < VMD_SERIAL_MAX; i++) {
		qfd[i] = i < pl->n && is_kept(vm, i) ? conn_fds[i] : -1;
		if (qfd[i] >= 0)
			conn_fds[i] = -1;
	}
	if ((vm->keeper_pid = keeper_start(vm, qfd, pl->journal, err,
					   sizeof err)) >= 0)
		return 0;
	rpc_fault_set(f, RPC_EMULATOR_FAILED, "VM '%s': cannot start the "
		      "console keeper: %s", vm->name, err);
	return -1;
}

static int connect_keeper(const struct vm *vm, int i)
{
	char path[4096];

	keeper_sock(vm, i, path, sizeof path);
	return vm_unix_socket(path, false);
}

static int connect_qemu(const struct vm *vm, int i)
{
	char path[4096];

	vm_port_path(path, sizeof path, vm->run_dir, i, VM_PORT_SOCK);
	return vm_unix_socket(path, false);
}

void ports_open(struct vm *vm, struct port_plan *pl, int *conn_fds)
{
	for (int i = 0; i < pl->n; i++) {
		if (!is_kept(vm, i)) {
			vm->hostdev[i] = hostdev_open(conn_fds[i], vm->name, vm->uuid,
						      i, ports_cfg(vm, i), vm_qemu_user());
			conn_fds[i] = -1;
			continue;
		}
		int fd = connect_keeper(vm, i);
		if (fd < 0)
			log_vm(LOG_ERR, vm->name, vm->uuid, "serial port %d: cannot "
			       "connect to its keeper: %s", i, strerror(errno));
		open_console(vm, i, fd, pl->journal[i], pl->base[i], pl->tcp_fd[i],
			     pl->secret[i]);
		pl->tcp_fd[i] = -1;  /* the console owns it now */
		if (fd < 0 && vm->console[i])
			console_retry(vm->console[i]);
	}
}

static void rekeep(struct vm *vm, int i);

/* A console finished: the last one ends ports_finish(); without one under
 * way, the journal of a lost keeper is in the log and a new keeper
 * starts. */
static void port_finished(void *ctx, int port)
{
	struct vm *vm = ctx;
	void (*done)(struct vm *vm) = vm->ports_done;

	if (!done) {
		rekeep(vm, port);
		return;
	}
	for (int i = 0; i < VMD_SERIAL_MAX; i++)
		if (vm->console[i] && console_finishing(vm->console[i]))
			return;
	vm->ports_done = NULL;
	done(vm);
}

void ports_finish(struct vm *vm, void (*done)(struct vm *vm))
{
	bool waiting = false;

	vm->ports_done = done;
	for (int i = 0; i < VMD_SERIAL_MAX; i++) {
		struct console *con = vm->console[i];
		/* one finishing for a lost keeper already ends the same way */
		if (con && !console_finishing(con))
			console_finish(con, port_finished, vm);
		waiting |= con != NULL;
	}
	if (!waiting) {
		vm->ports_done = NULL;
		done(vm);
	}
}

void ports_close(struct vm *vm)
{
	for (int i = 0; i < VMD_SERIAL_MAX; i++) {
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

/* A re-adopted tcp port listens where it did, with the same secret; if
 * its file is lost, on the configured port (or a random one) with a new
 * secret. */
static int adopt_tcp(const struct vm *vm, int i, char *secret)
{
	int port, fd;

	secret[0] = '\0';
	if (strcmp(ports_type(vm, i), "tcp"))
		return -1;
	if (load_tcp(vm, i, &port, secret) < 0) {
		port = (int)rpc_member_int(ports_cfg(vm, i), "port");
		if (wants_auth(vm, i) && tcpgate_make_secret(secret) < 0)
			return -1;
	}
	if ((fd = tcp_listen(port)) < 0) {
		log_vm(LOG_ERR, vm->name, vm->uuid, "serial port %d: tcp port %d: "
		       "%s", i, port, strerror(errno));
		return -1;
	}
	if (save_tcp(vm, i, bound_port(fd), secret) < 0)
		log_vm(LOG_WARNING, vm->name, vm->uuid, "serial port %d: cannot "
		       "record its tcp port and secret: %s", i, strerror(errno));
	return fd;
}

static bool qemu_listens(const struct vm *vm, int i)
{
	int fd = connect_qemu(vm, i);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The keeper of port i is gone (killed) while QEMU runs: log what its
 * journal holds (rekeep() goes on from there).  What the guest printed
 * between the two keepers went nowhere. */
static void replace_keeper(struct vm *vm, int i)
{
	/* QEMU listens on its socket as long as it runs */
	if (!qemu_listens(vm, i)) {
		log_vm(LOG_INFO, vm->name, vm->uuid, "serial port %d: its keeper "
		       "and QEMU's socket are gone: QEMU is ending", i);
		return;
	}
	log_vm(LOG_WARNING, vm->name, vm->uuid, "serial port %d: its keeper is "
	       "gone; starting a new one (what the guest printed since is lost)",
	       i);
	console_finish(vm->console[i], port_finished, vm);
}

/* The lost keeper's journal is in the log: start a new keeper on QEMU's
 * socket, its journal beginning where the log ends. */
static void rekeep(struct vm *vm, int i)
{
	struct console *con = vm->console[i];
	int qfd[VMD_SERIAL_MAX] = {-1, -1, -1, -1}, fd = -1;
	char *journal[VMD_SERIAL_MAX] = {0}, err[1024] = "";
	uint64_t base = 0;

	if ((qfd[i] = connect_qemu(vm, i)) < 0) {
		log_vm(LOG_INFO, vm->name, vm->uuid, "serial port %d: QEMU's socket "
		       "is gone: QEMU is ending", i);
		return;
	}
	if (!(journal[i] = new_journal(vm, i, &base))) {
		close(qfd[i]);
		snprintf(err, sizeof err, "out of memory");
	} else if (keeper_start(vm, qfd, journal, err, sizeof err) > 0 &&
		   (fd = connect_keeper(vm, i)) < 0) {
		snprintf(err, sizeof err, "cannot connect to it: %s", strerror(errno));
	}
	if (err[0])
		log_vm(LOG_ERR, vm->name, vm->uuid, "serial port %d: new keeper: %s",
		       i, err);
	if (journal[i] && fd >= 0)
		console_rekeep(con, fd, journal[i], base);
	else
		console_retry(con);
	free(journal[i]);
}

/* The keeper's connection closed while QEMU runs (or vmd never reached
 * it).  A keeper that lives is reconnected, exactly where the log ends;
 * one that is gone is replaced; one that does not answer is tried again. */
static void keeper_lost(void *ctx, int port)
{
	struct vm *vm = ctx;
	struct console *con = vm->console[port];
	int fd, e;

	if (vm->pid <= 0 || !con)
		return;
	if ((fd = connect_keeper(vm, port)) >= 0) {
		console_connect(con, fd);
		return;
	}
	e = errno;
	if ((e == ECONNREFUSED || e == ENOENT) && !console_keeper_alive(con)) {
		replace_keeper(vm, port);
		return;
	}
	log_vm(LOG_WARNING, vm->name, vm->uuid, "serial port %d: its keeper does "
	       "not answer (%s); trying again later", port, strerror(e));
	console_retry(con);
}

void ports_adopt(struct vm *vm)
{
	for (int i = 0; i < ports_count(vm); i++) {
		if (!is_kept(vm, i)) {
			int fd = connect_qemu(vm, i);
			if (fd < 0)
				log_vm(LOG_ERR, vm->name, vm->uuid, "serial port %d: "
				       "cannot reconnect: %s", i, strerror(errno));
			else
				vm->hostdev[i] = hostdev_open(fd, vm->name, vm->uuid, i,
							      ports_cfg(vm, i), vm_qemu_user());
			continue;
		}
		struct found f = {0};
		find_journals(vm, i, keep_newest, &f);
		int fd = connect_keeper(vm, i);
		char secret[40];
		int tfd = adopt_tcp(vm, i, secret);
		open_console(vm, i, fd, f.path, f.base, tfd, secret);
		free(f.path);
		if (fd < 0 && vm->console[i])
			keeper_lost(vm, i);
	}
}

static void salvaged(struct vm *vm)
{
}

void ports_salvage(struct vm *vm)
{
	for (int i = 0; i < ports_count(vm); i++) {
		struct found f = {0};
		if (!is_kept(vm, i) || !find_journals(vm, i, keep_newest, &f))
			continue;
		/* a keeper still handing over the end, or only the file */
		open_console(vm, i, connect_keeper(vm, i), f.path, f.base, -1, NULL);
		free(f.path);
	}
	/* at start-up, before vmd serves: the loop runs here until done, or
	 * until a signal asks vmd to exit (main.c then serves no one) */
	ports_finish(vm, salvaged);
	while (vm->ports_done && !vmd.exiting &&
	       event_base_loop(vmd.base, EVLOOP_ONCE) >= 0)
		;
	vm->ports_done = NULL;
	ports_close(vm);
}
