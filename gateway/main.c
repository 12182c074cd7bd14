/* vmd-gateway: HTTPS in front of vmd's --gateway-socket (gateway.h).
 * Reads its options, sets up TLS and the listener while it may still read
 * the key and bind, then, when started as root, becomes --user for good
 * before it serves anyone. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "gateway/console.h"
#include "gateway/gateway.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmd-gateway --cert FILE --key FILE [options]\n"
		"  --listen ADDR:PORT     where to serve HTTPS (127.0.0.1:8443)\n"
		"  --cert FILE            the TLS certificate chain (PEM)\n"
		"  --key FILE             its private key (PEM)\n"
		"  --vmd-socket PATH      vmd's --gateway-socket\n"
		"                         (/run/vmd/gateway.sock)\n"
		"  --user USER            started as root: run as USER (required)\n"
		"  --allow-host NAME      serve only this Host (repeatable; none:\n"
		"                         any)\n"
		"  --allow-origin URL     a web page's origin (scheme://host[:port])\n"
		"                         that may open websockets (repeatable;\n"
		"                         the gateway's own always may)\n"
		"  --www DIR              the console page's files\n"
		"                         (" PKGDATADIR "/www)\n"
		"  --max-connections N    HTTP connections at once (1024)\n"
		"  --max-header-bytes N   request line and headers (8192)\n"
		"  --max-body-bytes N     request body (1048576)\n"
		"  --header-timeout S     TLS handshake and headers, from the\n"
		"                         request's first byte (10)\n"
		"  --body-timeout S       the body, after the headers (30)\n"
		"  --idle-timeout S       keep-alive between requests (60)\n"
		"  --upstream-max N       connections to vmd for calls (16)\n"
		"  --version, --help\n");
}

static int num(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || end == s || *end || *out < lo || *out > hi) {
		fprintf(stderr, "vmd-gateway: --%s: expected %ld..%ld, not \"%s\"\n",
			opt, lo, hi, s);
		return -1;
	}
	return 0;
}

/* Each option: a string it sets, or a number within lo..hi (into an
 * int, or a size_t). */
struct opt {
	const char *name;
	const char **str;
	int *i;
	size_t *z;
	long lo, hi;
};

static int set_opt(struct gw_config *cfg, const struct opt *o, const char *arg)
{
	long n;

	if (o->str) {
		*o->str = arg;
	} else if (!strcmp(o->name, "allow-host")) {
		if (cfg->nhosts == GW_MAX_HOSTS) {
			fprintf(stderr, "vmd-gateway: at most %d --allow-host\n",
				GW_MAX_HOSTS);
			return -1;
		}
		cfg->hosts[cfg->nhosts++] = arg;
	} else if (!strcmp(o->name, "allow-origin")) {
		if (cfg->norigins == GW_MAX_HOSTS) {
			fprintf(stderr, "vmd-gateway: at most %d --allow-origin\n",
				GW_MAX_HOSTS);
			return -1;
		}
		cfg->origins[cfg->norigins++] = arg;
	} else if (num(o->name, arg, o->lo, o->hi, &n) < 0) {
		return -1;
	} else if (o->i) {
		*o->i = (int)n;
	} else {
		*o->z = (size_t)n;
	}
	return 0;
}

static int parse_args(struct gw_config *cfg, int argc, char **argv)
{
	const struct opt table[] = {
		{"listen", &cfg->listen, 0, 0, 0, 0},
		{"cert", &cfg->cert, 0, 0, 0, 0},
		{"key", &cfg->key, 0, 0, 0, 0},
		{"vmd-socket", &cfg->vmd_socket, 0, 0, 0, 0},
		{"user", &cfg->user, 0, 0, 0, 0},
		{"allow-host", 0, 0, 0, 0, 0},
		{"allow-origin", 0, 0, 0, 0, 0},
		{"www", &cfg->www, 0, 0, 0, 0},
		{"max-connections", 0, &cfg->max_conns, 0, 1, 1000000},
		{"max-header-bytes", 0, 0, &cfg->max_header, 1024, 1 << 20},
		{"max-body-bytes", 0, 0, &cfg->max_body, 0, 1L << 30},
		{"header-timeout", 0, &cfg->header_timeout, 0, 1, 3600},
		{"body-timeout", 0, &cfg->body_timeout, 0, 1, 3600},
		{"idle-timeout", 0, &cfg->idle_timeout, 0, 1, 86400},
		{"upstream-max", 0, &cfg->upstream_max, 0, 1, 1024},
	};
	enum { N = sizeof table / sizeof table[0] };
	struct option opts[N + 3] = {
		[N] = {"version", no_argument, 0, 'V'},
		[N + 1] = {"help", no_argument, 0, 'h'},
	};
	int o;

	for (int i = 0; i < N; i++)
		opts[i] = (struct option){table[i].name, required_argument, 0, i};
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o >= 0 && o < N) {
			if (set_opt(cfg, &table[o], optarg) < 0)
				return 2;
		} else if (o == 'V') {
			printf("vmd-gateway %s\n", VMD_VERSION);
			return 1;
		} else {
			usage(o == 'h' ? stdout : stderr);
			return o == 'h' ? 1 : 2;
		}
	}
	if (optind < argc || !cfg->cert || !cfg->key) {
		fprintf(stderr, "vmd-gateway: --cert and --key are required\n");
		return 2;
	}
	return 0;
}

/* Root becomes user for good (groups too), or the gateway refuses to
 * run: it must hold no right it does not need. */
static int drop_root(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0 && getuid() != 0)
		return 0;
	if (!user) {
		fprintf(stderr, "vmd-gateway: refusing to run as root; give "
			"--user USER\n");
		return -1;
	}
	if (!(pw = getpwnam(user)) || pw->pw_uid == 0) {
		fprintf(stderr, "vmd-gateway: --user %s: no such user (or root)\n",
			user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0 || setuid(0) == 0) {
		fprintf(stderr, "vmd-gateway: cannot become %s: %s\n", user,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Every connection is a descriptor: take what the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
	struct gw gw = {.cfg = {
		.listen = "127.0.0.1:8443",
		.vmd_socket = "/run/vmd/gateway.sock",
		.max_conns = 1024,
		.max_header = 8192,
		.max_body = 1024 * 1024,
		.header_timeout = 10,
		.body_timeout = 30,
		.idle_timeout = 60,
		.upstream_max = 16,
		.www = PKGDATADIR "/www",
	}};
	char err[512];
	int rc = parse_args(&gw.cfg, argc, argv);

	if (rc)
		return rc == 1 ? 0 : rc;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	/* the changelist folds a connection's enable-then-disable within one
	 * loop turn into no epoll_ctl at all */
	struct event_config *ec = event_config_new();
	if (ec)
		event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	gw.base = ec ? event_base_new_with_config(ec) : NULL;
	if (ec)
		event_config_free(ec);
	if (!gw.base || !(gw.up = upstream_new(&gw))) {
		fprintf(stderr, "vmd-gateway: out of memory\n");
		return 1;
	}
	if (www_load(gw.cfg.www, err, sizeof err) < 0)
		fprintf(stderr, "vmd-gateway: no console page: %s\n", err);
	if (gw_http_start(&gw, err, sizeof err) < 0) {
		fprintf(stderr, "vmd-gateway: %s\n", err);
		return 1;
	}
	if (drop_root(gw.cfg.user) < 0)
		return 1;
	struct event *term = evsignal_new(gw.base, SIGTERM, on_signal, gw.base);
	struct event *intr = evsignal_new(gw.base, SIGINT, on_signal, gw.base);
	evsignal_add(term, NULL);
	evsignal_add(intr, NULL);
	fprintf(stderr, "vmd-gateway %s listening on %s, vmd at %s\n",
		VMD_VERSION, gw.cfg.listen, gw.cfg.vmd_socket);
	event_base_dispatch(gw.base);
	event_free(term);
	event_free(intr);
	gw_http_stop(&gw);
	upstream_free(gw.up);
	www_free();
	event_base_free(gw.base);
	return 0;
}
