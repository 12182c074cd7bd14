/* vmd: the VM supervisor daemon.  Parses options, opens the store, probes
 * the host once (KVM or TCG), loads the definitions, listens, and runs the
 * event loop until SIGTERM/SIGINT.  Guests are separate processes and keep
 * running when vmd exits. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "daemon/climit.h"
#include "daemon/commit.h"
#include "daemon/dirs.h"
#include "daemon/leftovers.h"
#include "daemon/tap.h"
#include "daemon/pool_sweep.h"
#include "daemon/dispatch.h"
#include "daemon/job.h"
#include "daemon/libvirt_fetch.h"
#include "daemon/pool.h"
#include "daemon/log.h"
#include "daemon/meter.h"
#include "daemon/plan.h"
#include "daemon/quota.h"
#include "daemon/scope.h"
#include "daemon/sdnotify.h"
#include "daemon/server.h"
#include "daemon/store.h"
#include "daemon/template.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "emu/emulator.h"
#include "emu/spawn.h"

#ifndef QEMU_DEFAULT
#define QEMU_DEFAULT "/usr/bin/qemu-system-x86_64"
#endif
/* How long the KVM probe may take to get a boot sector to print.  A real
 * KVM host needs well under 0.5 s; the nested software KVM seen in CI needs
 * about 5 s. */
#define PROBE_TIMEOUT_MS 1500

struct vmd vmd;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmd [options]\n"
		"  --state-dir DIR        definitions and store (root: /var/lib/vmd)\n"
		"  --run-dir DIR          sockets and per-VM runtime (root: /run/vmd)\n"
		"  --socket PATH          protocol socket (RUN-DIR/vmd.sock)\n"
		"  --jsonrpc-socket PATH  extra listener for plain JSON-RPC 2.0\n"
		"  --gateway-socket PATH  extra listener for vmd-gateway: peers get\n"
		"                         no rights, every call needs a token\n"
		"  --gateway-socket-mode OCTAL  its mode (0660)\n"
		"  --gateway-socket-group GROUP  its group (root's)\n"
		"  --qemu [ARCH=]PATH     qemu-system-ARCH binary, x86_64's without\n"
		"                         ARCH; the others default to the ones\n"
		"                         beside it (%s)\n"
		"  --probe-cache PATH     where the KVM probe's verdict is kept\n"
		"  --no-sandbox           do not pass -sandbox on to QEMU\n"
		"  --qemu-user USER       user root's QEMU runs as (nobody)\n"
		"  --stop-guests          on SIGTERM, stop running guests first\n"
		"  --stop-timeout SEC     ACPI grace before kill with --stop-guests (30)\n"
		"  --socket-mode OCTAL    mode of the sockets vmd makes (0660)\n"
		"  --max-clients N        connections at once, all sockets but the\n"
		"                         gateway's (1024)\n"
		"  --max-clients-per-uid N  connections of one user; root and\n"
		"                         vmd's own user are exempt (64)\n"
		"  --admin-reserve N      of --max-clients, places only root and\n"
		"                         vmd-admin may take (32, or max/8 if less)\n"
		"  --max-gateway-clients N  connections at once on --gateway-socket,\n"
		"                         instead of the limits above (4096)\n"
		"  --max-message BYTES    size of one request (1048576)\n"
		"  --handshake-timeout S  from connecting to qmp_capabilities, or to\n"
		"                         the first request on --jsonrpc-socket (30)\n"
		"  --idle-timeout S       close sessions silent, or reading none of\n"
		"                         their replies, that long (0: never)\n"
		"  --scopes auto|on|off   put each QEMU in machine-NAME.scope (auto:\n"
		"                         when systemd is PID 1 and vmd runs as root)\n"
		"  --log-level LEVEL      error, warning, info or debug (info)\n"
		"  --log-retention DAYS   keep undefined VMs' console logs (30;\n"
		"                         0: for ever)\n"
		"  --meter-interval SEC   between usage samples (60)\n"
		"  --meter-retention DAYS keep raw usage samples (7)\n"
		"  --pool NAME=DIR        a storage pool for volumes (repeatable;\n"
		"                         \"default\" is STATE-DIR/volumes)\n"
		"  --version, --help\n", QEMU_DEFAULT);
}

static char *path_join(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];

	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return -1;
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(buf, mode);
			*p = '/';
		}
	return mkdir(buf, mode) == 0 || errno == EEXIST ? 0 : -1;
}

static void default_dirs(void)
{
	const char *xs = getenv("XDG_STATE_HOME"), *xr = getenv("XDG_RUNTIME_DIR");
	const char *home = getenv("HOME");
	char buf[4096];

	if (!vmd.state_dir) {
		if (geteuid() == 0)
			snprintf(buf, sizeof buf, "/var/lib/vmd");
		else if (xs && *xs)
			snprintf(buf, sizeof buf, "%s/vmd", xs);
		else
			snprintf(buf, sizeof buf, "%s/.local/state/vmd", home ? home : "/tmp");
		vmd.state_dir = strdup(buf);
	}
	if (!vmd.run_dir) {
		if (geteuid() == 0)
			snprintf(buf, sizeof buf, "/run/vmd");
		else if (xr && *xr)
			snprintf(buf, sizeof buf, "%s/vmd", xr);
		else
			snprintf(buf, sizeof buf, "/tmp/vmd-%d", (int)geteuid());
		vmd.run_dir = strdup(buf);
	}
	if (!vmd.sock_path)
		vmd.sock_path = path_join(vmd.run_dir, "vmd.sock");
	if (!vmd.probe_cache)
		vmd.probe_cache = path_join(vmd.state_dir, "probe.json");
}

/* A repeated option wins over the earlier one. */
static void set_str(char **field, const char *value);

/* --qemu PATH (x86_64's) or --qemu ARCH=PATH */
static int qemu_opt(const char *opt)
{
	const struct emu_arch *a, *all;
	const char *path;
	size_t n;

	all = emu_arch_all(&n);
	if (emu_qemu_option(opt, &a, &path) < 0 || !*path) {
		fprintf(stderr, "vmd: --qemu %s: expected PATH or ARCH=PATH, "
			"ARCH one of:", opt);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %s", all[i].name);
		fputc('\n', stderr);
		return -1;
	}
	if (!a || !strcmp(a->name, "x86_64"))
		set_str(&vmd.qemu, path);
	else
		set_str(&vmd.qemu_arch[a - all], path);
	return 0;
}

static void set_str(char **field, const char *value)
{
	free(*field);
	*field = strdup(value);
}

/* A numeric option in [min, max]; base 8 for modes.  -1 after saying why. */
static int num_opt(const char *name, int base, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(optarg, &end, base);
	if (errno || end == optarg || *end || *out < min || *out > max) {
		fprintf(stderr, "vmd: --%s: expected a number from %ld to %ld%s, "
			"not \"%s\"\n", name, min, max, base == 8 ? " (octal)" : "",
			optarg);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, int *level)
{
	static const struct option opts[] = {
		{"state-dir", required_argument, 0, 's'},
		{"run-dir", required_argument, 0, 'r'},
		{"socket", required_argument, 0, 'S'},
		{"jsonrpc-socket", required_argument, 0, 'j'},
		{"gateway-socket", required_argument, 0, 'G'},
		{"gateway-socket-mode", required_argument, 0, 'W'},
		{"gateway-socket-group", required_argument, 0, 'X'},
		{"qemu", required_argument, 0, 'q'},
		{"probe-cache", required_argument, 0, 'p'},
		{"no-sandbox", no_argument, 0, 'n'},
		{"qemu-user", required_argument, 0, 'u'},
		{"stop-guests", no_argument, 0, 'g'},
		{"stop-timeout", required_argument, 0, 'T'},
		{"socket-mode", required_argument, 0, 'm'},
		{"max-clients", required_argument, 0, 'c'},
		{"max-message", required_argument, 0, 'M'},
		{"max-clients-per-uid", required_argument, 0, 'U'},
		{"admin-reserve", required_argument, 0, 'A'},
		{"max-gateway-clients", required_argument, 0, 'Y'},
		{"handshake-timeout", required_argument, 0, 'H'},
		{"idle-timeout", required_argument, 0, 'I'},
		{"scopes", required_argument, 0, 'P'},
		{"log-level", required_argument, 0, 'l'},
		{"log-retention", required_argument, 0, 'R'},
		{"pool", required_argument, 0, 'o'},
		{"meter-interval", required_argument, 0, 'i'},
		{"meter-retention", required_argument, 0, 'K'},
		{"version", no_argument, 0, 'V'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	int o;
	long n;
	char err[512];

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 's': set_str(&vmd.state_dir, optarg); break;
		case 'r': set_str(&vmd.run_dir, optarg); break;
		case 'S': set_str(&vmd.sock_path, optarg); break;
		case 'j': set_str(&vmd.jsonrpc_path, optarg); break;
		case 'G': set_str(&vmd.gateway_path, optarg); break;
		case 'W': if (num_opt("gateway-socket-mode", 8, 0, 0777, &n) < 0)
				  return 2;
			  vmd.gateway_mode = (unsigned)n; break;
		case 'X': set_str(&vmd.gateway_group, optarg); break;
		case 'q': if (qemu_opt(optarg) < 0) return 2;
			  break;
		case 'p': set_str(&vmd.probe_cache, optarg); break;
		case 'n': vmd.sandbox = 0; break;
		case 'u': set_str(&vmd.qemu_user, optarg); break;
		case 'g': vmd.stop_guests = 1; break;
		case 'T': if (num_opt("stop-timeout", 8, 0, 3600, &n) < 0) return 2;
			  vmd.stop_timeout = (int)n; break;
		case 'm': if (num_opt("socket-mode", 8, 0, 0777, &n) < 0) return 2;
			  vmd.socket_mode = (unsigned)n; break;
		case 'c': if (num_opt("max-clients", 10, 1, 1000000, &n) < 0) return 2;
			  vmd.max_clients = (int)n; break;
		case 'U': if (num_opt("max-clients-per-uid", 10, 1, 1000000, &n) < 0)
				  return 2;
			  vmd.max_clients_per_uid = (int)n; break;
		case 'A': if (num_opt("admin-reserve", 10, 0, 1000000, &n) < 0) return 2;
			  vmd.admin_reserve = (int)n; break;
		case 'Y': if (num_opt("max-gateway-clients", 10, 1, 1000000, &n) < 0)
				  return 2;
			  vmd.max_gateway_clients = (int)n; break;
		case 'M': if (num_opt("max-message", 10, 1024, 1L << 30, &n) < 0) return 2;
			  vmd.max_msg = (size_t)n; break;
		case 'H': if (num_opt("handshake-timeout", 10, 1, 86400, &n) < 0) return 2;
			  vmd.handshake_timeout = (int)n; break;
		case 'I': if (num_opt("idle-timeout", 10, 0, 86400 * 30, &n) < 0) return 2;
			  vmd.idle_timeout = (int)n; break;
		case 'P':
			if ((vmd.scopes = scope_mode_from_name(optarg)) < 0) {
				fprintf(stderr, "vmd: --scopes: expected auto, on or "
					"off, not \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'l':
			if ((*level = log_level_from_name(optarg)) < 0) {
				fprintf(stderr, "vmd: unknown log level: %s\n", optarg);
				return 2;
			}
			break;
		case 'R': if (num_opt("log-retention", 10, 0, 36500, &n) < 0) return 2;
			  vmd.log_retention = (int)n; break;
		case 'i': if (num_opt("meter-interval", 10, 1, 3600, &n) < 0) return 2;
			  vmd.meter_interval = (int)n; break;
		case 'K': if (num_opt("meter-retention", 10, 1, 3650, &n) < 0) return 2;
			  vmd.meter_retention = (int)n; break;
		case 'o':
			if (pool_add(optarg, err, sizeof err) < 0) {
				fprintf(stderr, "vmd: %s\n", err);
				return 2;
			}
			break;
		case 'V': printf("vmd %s\n", VMD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmd: unexpected argument: %s\n", argv[optind]);
		return 2;
	}
	if (vmd.admin_reserve >= climit_max()) {
		fprintf(stderr, "vmd: --admin-reserve %d: must be less than "
			"--max-clients (%d)\n", vmd.admin_reserve, climit_max());
		return 2;
	}
	return -1;
}

/* The probe costs a second or two; its verdict holds for one host boot and
 * one QEMU binary, so it is cached. */
static void probe_host(void)
{
	char key[512];

	emu_probe_cache_key(vmd.qemu, key, sizeof key);
	if (emu_probe_load(vmd.probe_cache, key, &vmd.probe) == 0) {
		log_info("accelerator: %s (cached): %s", vmd.probe.verdict, vmd.probe.reason);
		return;
	}
	sdnotify_status("probing the accelerator");
	emu_probe_run(vmd.qemu, vmd.run_dir, PROBE_TIMEOUT_MS, &vmd.probe);
	log_info("accelerator: %s: %s", vmd.probe.verdict, vmd.probe.reason);
	if (emu_probe_save(vmd.probe_cache, key, &vmd.probe) < 0)
		log_warn("cannot save %s", vmd.probe_cache);
}

/* Which emulators there are, for query-host; cached beside the probe's
 * verdict. */
static void find_emulators(void)
{
	char *paths[EMU_ARCH_N], cache[4200];
	size_t n;
	const struct emu_arch *all = emu_arch_all(&n);

	for (size_t i = 0; i < n; i++)
		paths[i] = emu_qemu_path(all[i].name, vmd.qemu_arch, vmd.qemu);
	snprintf(cache, sizeof cache, "%s.emulators", vmd.probe_cache);
	vmd.emulators = emu_emulators(paths, vmd.run_dir, cache);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	log_info("emulators: %zu of %zu architectures",
		 json_object_array_length(vmd.emulators), n);
}

static void leave_loop(void)
{
	vmd.exiting = true;
	event_base_loopbreak(vmd.base);
}

/* SIGTERM leaves guests running, unless --stop-guests: then they are
 * powered down first (killed after --stop-timeout).  A second signal
 * exits at once. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	static bool stopping;

	if (vmd.stop_guests && !stopping && sig != SIGHUP) {
		stopping = true;
		log_info("signal %d: stopping guests, then exiting", (int)sig);
		sdnotify_status("stopping guests");
		vm_stop_all(vmd.stop_timeout, leave_loop);
		return;
	}
	log_info("signal %d: exiting; guests keep running", (int)sig);
	leave_loop();
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!job_child_exited(pid, status) &&
		    !lv_fetch_child_exited(pid, status))
			vm_child_exited(pid, status);
}

/* Listeners from systemd socket activation, else our own. */
static int listen_all(void)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	if (n < 0)
		log_warn("ignoring sockets passed by systemd: %s", strerror(-n));
	for (int i = 0; i < n; i++) {
		const char *name = names && names[i] ? names[i] : "";
		enum listen_kind kind = !strcmp(name, "jsonrpc") ? LISTEN_JSONRPC :
			!strcmp(name, "gateway") ? LISTEN_GATEWAY : LISTEN_QMP;
		if (server_listen_fd(SD_LISTEN_FDS_START + i, kind) < 0)
			return -1;
	}
	if (names)
		for (int i = 0; i < n; i++)
			free(names[i]);
	free(names);
	if (n > 0) {
		log_info("using %d socket%s passed by systemd", n, n == 1 ? "" : "s");
		return 0;
	}
	if (server_listen(vmd.sock_path, LISTEN_QMP) < 0)
		return -1;
	if (vmd.jsonrpc_path && server_listen(vmd.jsonrpc_path, LISTEN_JSONRPC) < 0)
		return -1;
	if (vmd.gateway_path && server_listen(vmd.gateway_path, LISTEN_GATEWAY) < 0)
		return -1;
	return 0;
}

static int setup(void)
{
	char err[512];

	/* root's run dir holds the socket group vmd reaches; a user's is
	 * private */
	if (mkdir_p(vmd.state_dir, 0700) < 0 ||
	    mkdir_p(vmd.run_dir, geteuid() == 0 ? 0755 : 0700) < 0) {
		log_err("cannot create %s or %s: %s", vmd.state_dir, vmd.run_dir,
			strerror(errno));
		return -1;
	}
	if (dirs_check_own(vmd.state_dir) < 0 || dirs_check_own(vmd.run_dir) < 0 ||
	    (vmd.state_lock = dirs_lock_state(vmd.state_dir)) < 0)
		return -1;
	if (pool_setup(vmd.state_dir, err, sizeof err) < 0) {
		log_err("%s", err);
		return -1;
	}
	/* vmd writes there as root: nobody else may plant a symlink */
	for (size_t i = 0; i < pool_count(); i++)
		if (dirs_check_own(pool_dir(pool_name_at(i))) < 0)
			return -1;
	if (dispatch_init(err, sizeof err) < 0) {
		log_err("schema: %s", err);
		return -1;
	}
	char *db = path_join(vmd.state_dir, "vmd.db");
	vmd.store = db ? store_open(db, err, sizeof err) : NULL;
	free(db);
	if (!vmd.store) {
		log_err("store: %s", err);
		return -1;
	}
	pool_sweep(vmd.store);
	sdnotify_status("loading VM definitions");
	if (vm_load_all() < 0 || template_load_all() != STORE_OK) {
		log_err("cannot load VM definitions: %s", store_errmsg(vmd.store));
		return -1;
	}
	vm_recover_all();
	meter_init();
	quota_init();
	plan_init();
	tap_sweep();
	leftovers_start();
	probe_host();
	find_emulators();
	return listen_all();
}

int main(int argc, char **argv)
{
	int level = LOG_INFO, rc;
	struct event *sigs[4];

	vmd.sandbox = 1;
	vmd.stop_timeout = 30;
	vmd.admin_reserve = -1;
	vmd.log_retention = 30;
	vmd.meter_interval = METER_INTERVAL_DEFAULT;
	vmd.meter_retention = METER_RETENTION_DEFAULT;
	if ((rc = parse_args(argc, argv, &level)) >= 0)
		return rc;
	log_init(level);
	if (!vmd.qemu)
		vmd.qemu = strdup(QEMU_DEFAULT);
	default_dirs();
	signal(SIGPIPE, SIG_IGN);
	vmd.base = event_base_new();
	sigs[0] = evsignal_new(vmd.base, SIGTERM, on_signal, NULL);
	sigs[1] = evsignal_new(vmd.base, SIGINT, on_signal, NULL);
	sigs[2] = evsignal_new(vmd.base, SIGCHLD, on_sigchld, NULL);
	sigs[3] = evsignal_new(vmd.base, SIGHUP, on_signal, NULL);
	for (int i = 0; i < 4; i++)
		evsignal_add(sigs[i], NULL);
	scope_init(vmd.base, (enum scope_mode)vmd.scopes);
	rc = sdnotify_init(vmd.base) < 0 ? -1 : setup();
	if (rc == 0 && !vmd.exiting) {  /* a signal during setup: exit */
		log_info("vmd %s listening on %s", VMD_VERSION, vmd.sock_path);
		sdnotify_ready();
		vm_autostart_all();
		event_base_dispatch(vmd.base);
	}
	sdnotify_stopping();
	job_kill_all();
	lv_fetch_kill_all();
	commit_shutdown();
	server_shutdown();
	vm_release_all();
	plan_shutdown();
	meter_shutdown();
	leftovers_stop();
	scope_free();
	for (int i = 0; i < 4; i++)
		event_free(sigs[i]);
	if (vmd.store)
		store_close(vmd.store);
	dispatch_free();
	sdnotify_free();
	event_base_free(vmd.base);
	free(vmd.state_dir); free(vmd.run_dir); free(vmd.sock_path);
	free(vmd.jsonrpc_path); free(vmd.gateway_path); free(vmd.gateway_group); free(vmd.qemu); free(vmd.probe_cache);
	for (int i = 0; i < EMU_ARCH_N; i++)
		free(vmd.qemu_arch[i]);
	json_object_put(vmd.emulators);
	free(vmd.qemu_user);
	pool_free_all();
	return rc == 0 ? 0 : 1;
}
