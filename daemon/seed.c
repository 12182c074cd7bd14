/* The cloud-init NoCloud seed of a VM: meta-data, user-data,
 * network-config and vendor-data made from its config's cloud_init block
 * (checked by cloud_init.c), written as an ISO 9660 image labelled cidata
 * (seed_iso.c) into STATE/seeds/UUID.iso at each start, and handed to
 * QEMU as a read-only descriptor.
 *
 * The generated documents are JSON, which is YAML too: json-c's escaping
 * is exact, where hand-written YAML quoting would not be.  The instance-id
 * is an MD5 of everything in the seed, so it changes with any of it. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>  /* libisofs.h needs it first */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libisofs/libisofs.h>
#include "daemon/log.h"
#include "daemon/seed.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "daemon/vm_paths.h"
#include "rpc/schema.h"

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static void add_str(struct json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, json_object_new_string(s));
}

/* head, then o as JSON; NULL when memory ran out. */
static char *document(const char *head, struct json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
		JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *s = NULL;

	if (text && asprintf(&s, "%s%s\n", head, text) < 0)
		s = NULL;
	json_object_put(o);
	return s;
}

static struct json_object *user_entry(struct json_object *u)
{
	struct json_object *o = json_object_new_object(), *keys;
	const char *hash = rpc_member_str(u, "password_hash");

	add_str(o, "name", rpc_member_str(u, "name"));
	if ((keys = member(u, "ssh_authorized_keys")))
		json_object_object_add(o, "ssh_authorized_keys", json_object_get(keys));
	if (hash) {
		add_str(o, "passwd", hash);
		json_object_object_add(o, "lock_passwd", json_object_new_boolean(0));
	}
	if (rpc_member_bool(u, "sudo"))
		add_str(o, "sudo", "ALL=(ALL) NOPASSWD:ALL");
	return o;
}

static char *user_data(struct json_object *ci, const char *hostname)
{
	struct json_object *o, *users = member(ci, "users"), *list;

	if (rpc_member_str(ci, "user_data"))
		return strdup(rpc_member_str(ci, "user_data"));
	o = json_object_new_object();
	add_str(o, "hostname", hostname);
	if (users) {
		list = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(users); i++)
			json_object_array_add(list, user_entry(
				json_object_array_get_idx(users, i)));
		json_object_object_add(o, "users", list);
	}
	return document("#cloud-config\n", o);
}

/* One NIC's netplan-style entry, matched by the MAC vmd gave it. */
static struct json_object *ethernet(struct json_object *net, const char *mac)
{
	struct json_object *o = json_object_new_object(), *m = json_object_new_object();
	struct json_object *v;
	const char *gw = rpc_member_str(net, "gateway");

	add_str(m, "macaddress", mac);
	json_object_object_add(o, "match", m);
	if (rpc_member_bool(net, "dhcp"))
		json_object_object_add(o, "dhcp4", json_object_new_boolean(1));
	if ((v = member(net, "addresses")))
		json_object_object_add(o, "addresses", json_object_get(v));
	if (gw)
		add_str(o, strchr(gw, ':') ? "gateway6" : "gateway4", gw);
	if ((v = member(net, "dns"))) {
		struct json_object *ns = json_object_new_object();
		json_object_object_add(ns, "addresses", json_object_get(v));
		json_object_object_add(o, "nameservers", ns);
	}
	return o;
}

static char *network_config(struct json_object *config, struct json_object *ci)
{
	struct json_object *nets = member(ci, "network"), *nics = member(config, "nics");
	struct json_object *o, *eth;
	char id[16];

	if (!nets)
		return NULL;
	o = json_object_new_object();
	eth = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int(2));
	for (size_t i = 0; i < json_object_array_length(nets); i++) {
		struct json_object *net = json_object_array_get_idx(nets, i);
		int nic = (int)rpc_member_int(net, "nic");
		snprintf(id, sizeof id, "nic%d", nic);
		json_object_object_add(eth, id, ethernet(net, rpc_member_str(
			json_object_array_get_idx(nics, (size_t)nic), "mac")));
	}
	json_object_object_add(o, "ethernets", eth);
	return document("", o);
}

/* "iid-" and the MD5 of every part, each with its NUL. */
static int instance_id(char out[SEED_IID_MAX], const char *const *parts, size_t n)
{
	void *md5 = NULL;  /* iso_md5_start frees a context it is given */
	char sum[16];

	if (iso_md5_start(&md5) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		iso_md5_compute(md5, (char *)(parts[i] ? parts[i] : ""),
				(int)(parts[i] ? strlen(parts[i]) + 1 : 0));
	if (iso_md5_end(&md5, sum) < 0)
		return -1;
	strcpy(out, "iid-");
	for (int i = 0; i < 16; i++)
		snprintf(out + 4 + 2 * i, 3, "%02x", (unsigned char)sum[i]);
	return 0;
}

static char *meta_data(const char *iid, const char *hostname)
{
	struct json_object *o = json_object_new_object();

	add_str(o, "instance-id", iid);
	add_str(o, "local-hostname", hostname);
	return document("", o);
}

int seed_make(struct json_object *config, struct seed *s)
{
	struct json_object *ci = member(config, "cloud_init");
	const char *host = rpc_member_str(ci, "hostname");

	memset(s, 0, sizeof *s);
	if (!host)
		host = rpc_member_str(config, "name");
	s->user = user_data(ci, host);
	s->network = network_config(config, ci);
	if (rpc_member_str(ci, "vendor_data"))
		s->vendor = strdup(rpc_member_str(ci, "vendor_data"));
	const char *parts[] = {rpc_member_str(config, "uuid"), host, s->user,
			       s->network, s->vendor};
	if (!s->user || (member(ci, "network") && !s->network) ||
	    (rpc_member_str(ci, "vendor_data") && !s->vendor) ||
	    instance_id(s->iid, parts, sizeof parts / sizeof parts[0]) < 0 ||
	    !(s->meta = meta_data(s->iid, host))) {
		seed_free(s);
		return -1;
	}
	return 0;
}

void seed_free(struct seed *s)
{
	free(s->meta);
	free(s->user);
	free(s->network);
	free(s->vendor);
	memset(s, 0, sizeof *s);
}

size_t seed_files(const struct seed *s, struct seed_file out[4])
{
	const char *const names[] = {"meta-data", "user-data", "network-config",
				     "vendor-data"};
	const char *const data[] = {s->meta, s->user, s->network, s->vendor};
	size_t n = 0;

	for (size_t i = 0; i < 4; i++)
		if (data[i])
			out[n++] = (struct seed_file){names[i], data[i], strlen(data[i])};
	return n;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int build(struct vm *vm, const char *path, struct rpc_fault *f)
{
	struct seed s;
	struct seed_file files[4];
	struct timespec t0;
	char dir[4096], err[512];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	vm_seed_path(dir, sizeof dir, vmd.state_dir, NULL);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "VM '%s': cannot make %s: %s",
			      vm->name, dir, strerror(errno));
		return -1;
	}
	if (seed_make(vm->config, &s) < 0) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "VM '%s': out of memory "
			      "making its cloud-init seed", vm->name);
		return -1;
	}
	int rc = seed_iso_write(path, SEED_LABEL, files, seed_files(&s, files),
				err, sizeof err);
	if (rc < 0)
		rpc_fault_set(f, RPC_GENERIC_ERROR, "VM '%s': cannot write its "
			      "cloud-init seed: %s", vm->name, err);
	else
		log_vm(LOG_INFO, vm->name, vm->uuid, "cloud-init seed %s "
		       "(instance-id %s) built in %.2f ms", path, s.iid,
		       ms_since(&t0));
	seed_free(&s);
	return rc;
}

int seed_open(struct vm *vm, int *fd, struct rpc_fault *f)
{
	char path[4096];

	*fd = -1;
	vm_seed_path(path, sizeof path, vmd.state_dir, vm->uuid);
	if (!member(vm->config, "cloud_init")) {
		unlink(path);  /* the block was removed */
		return 0;
	}
	if (build(vm, path, f) < 0)
		return -1;
	if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "VM '%s': cannot open %s: %s",
			      vm->name, path, strerror(errno));
		return -1;
	}
	return 0;
}

void seed_remove(const char *uuid)
{
	char path[4096];

	vm_seed_path(path, sizeof path, vmd.state_dir, uuid);
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", path, strerror(errno));
}
