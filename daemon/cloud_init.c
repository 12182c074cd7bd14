/* The cloud_init block of a VM config (vm-config.json's CloudInit): what
 * its schema cannot check, and the one change vmd makes to it before it
 * goes anywhere: a plain password becomes a sha512-crypt hash.
 *
 * sha512-crypt rather than yescrypt: about 1 ms here against 15 ms (the
 * event loop waits for it), and older guests' libcrypt knows it. */
#include "config.h"
#include <arpa/inet.h>
#include <crypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "daemon/cloud_init.h"
#include "emu/cdrom.h"
#include "rpc/base64.h"
#include "rpc/schema.h"

#define HASH_PREFIX "$6$"

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static size_t length(struct json_object *arr)
{
	return json_object_is_type(arr, json_type_array) ?
	       json_object_array_length(arr) : 0;
}

static const char *item_str(struct json_object *arr, size_t i)
{
	return json_object_get_string(json_object_array_get_idx(arr, i));
}

/* --- ssh keys ------------------------------------------------------------ */

static const char *const key_types[] = {
	"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com", NULL,
};

static bool known_type(const char *t, size_t n)
{
	for (size_t i = 0; key_types[i]; i++)
		if (strlen(key_types[i]) == n && !strncmp(key_types[i], t, n))
			return true;
	return false;
}

/* The blob starts with the key type as an SSH string (4-byte length). */
static bool blob_names(const unsigned char *b, size_t n, const char *t, size_t tn)
{
	if (n < 4)
		return false;
	uint32_t len = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		       (uint32_t)b[2] << 8 | b[3];
	return len == tn && len <= n - 4 && !memcmp(b + 4, t, tn);
}

/* Why key is no OpenSSH public key line, or NULL. */
static const char *key_problem(const char *key, char *buf, size_t cap)
{
	for (const char *c = key; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "contains a control character (one key per item)";
	size_t tn = strcspn(key, " ");
	if (!known_type(key, tn)) {
		snprintf(buf, cap, "unknown key type '%.*s' (options before "
			 "the type are not supported)", (int)(tn > 40 ? 40 : tn), key);
		return buf;
	}
	if (key[tn] != ' ')
		return "no base64 key after the type";
	const char *b64 = key + tn + 1;
	char *text = strndup(b64, strcspn(b64, " "));
	size_t n;
	unsigned char *blob = text ? base64_decode(text, &n) : NULL;
	bool ok = blob && blob_names(blob, n, key, tn);
	const char *why = !text ? "out of memory" : !blob ? "the key is not valid base64" :
			  ok ? NULL : "the key's blob does not hold its type";
	free(blob);
	free(text);
	return why;
}

/* --- crypt(3) hashes ----------------------------------------------------- */

static const struct {
	const char *prefix;
	size_t len; /* of the hash after the last '$' */
} methods[] = {
	{"$y$", 43}, {"$gy$", 43}, {"$7$", 43}, {"$6$", 86}, {"$5$", 43},
	{"$2b$", 53}, {"$2y$", 53},
};

/* Structural only: computing a given hash could take a caller-chosen
 * number of rounds on the event loop. */
static const char *hash_problem(const char *h)
{
	size_t i, n = sizeof methods / sizeof methods[0];

	for (i = 0; i < n && strncmp(h, methods[i].prefix, strlen(methods[i].prefix)); i++)
		;
	if (i == n)
		return "not a crypt(3) hash of a supported method ($y$, $gy$, "
		       "$7$, $6$, $5$, $2b$, $2y$)";
	if (crypt_checksalt(h) != CRYPT_SALT_OK)
		return "libcrypt refuses its setting (crypt_checksalt)";
	const char *tail = strrchr(h, '$') + 1;
	if (strlen(tail) != methods[i].len ||
	    strspn(tail, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "abcdefghijklmnopqrstuvwxyz") != methods[i].len)
		return "the hash part has the wrong length or characters";
	return NULL;
}

/* The hash vmd made before for this user, if it is of pw: kept, so that an
 * unchanged password changes nothing (a new salt would give the seed a new
 * instance-id, and spec-apply a change).  Only hashes of vmd's own kind
 * are tried: a given one may cost any number of rounds. */
static const char *same_hash(struct json_object *old_users, const char *name,
			     const char *pw, struct crypt_data *cd)
{
	for (size_t i = 0; i < length(old_users); i++) {
		struct json_object *u = json_object_array_get_idx(old_users, i);
		const char *h = rpc_member_str(u, "password_hash"), *again;
		if (!h || strcmp(rpc_member_str(u, "name"), name) ||
		    strncmp(h, HASH_PREFIX, strlen(HASH_PREFIX)) || strstr(h, "rounds="))
			continue;
		again = crypt_r(pw, h, cd);
		return again && !strcmp(again, h) ? h : NULL;
	}
	return NULL;
}

static int hash_password(struct json_object *user, struct json_object *old_users,
			 const char *where, struct rpc_fault *f)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof *cd);
	const char *pw = rpc_member_str(user, "password"), *h = NULL;

	if (cd)
		h = same_hash(old_users, rpc_member_str(user, "name"), pw, cd);
	if (cd && !h && crypt_gensalt_rn(HASH_PREFIX, 0, NULL, 0, salt, sizeof salt))
		h = crypt_r(pw, salt, cd);
	if (!h || h[0] == '*') {
		free(cd);
		rpc_fault_set(f, RPC_GENERIC_ERROR, "%s.password: cannot hash it "
			      "with libcrypt", where);
		return -1;
	}
	json_object_object_add(user, "password_hash", json_object_new_string(h));
	json_object_object_del(user, "password");
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return 0;
}

static int check_user(struct json_object *user, struct json_object *old_users,
		      const char *where, struct rpc_fault *f)
{
	struct json_object *keys = member(user, "ssh_authorized_keys");
	const char *h = rpc_member_str(user, "password_hash"), *why;
	char buf[128];

	for (size_t i = 0; i < length(keys); i++)
		if ((why = key_problem(item_str(keys, i), buf, sizeof buf))) {
			rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s.ssh_authorized_"
				      "keys[%zu]: %s", where, i, why);
			return -1;
		}
	if (h && rpc_member_str(user, "password")) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s: give password or "
			      "password_hash, not both", where);
		return -1;
	}
	if (h && (why = hash_problem(h))) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s.password_hash: %s",
			      where, why);
		return -1;
	}
	return rpc_member_str(user, "password") ?
	       hash_password(user, old_users, where, f) : 0;
}

/* --- cloud-config documents ---------------------------------------------- */

static bool starts_cloud_config(const char *s)
{
	static const char head[] = "#cloud-config";
	size_t n = sizeof head - 1;

	return !strncmp(s, head, n) && strchr(" \t\r\n", s[n]);
}

static int yaml_problem(yaml_parser_t *p, const char *where, struct rpc_fault *f)
{
	rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s: not valid YAML: %s at line "
		      "%zu column %zu", where, p->problem ? p->problem : "error",
		      p->problem_mark.line + 1, p->problem_mark.column + 1);
	return -1;
}

/* One YAML document with a mapping at the top, as cloud-init reads it. */
static int check_cloud_config(const char *text, const char *where,
			      struct rpc_fault *f)
{
	yaml_parser_t p;
	yaml_document_t doc;
	int rc = -1;

	if (!starts_cloud_config(text)) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s: the first line must be "
			      "#cloud-config", where);
		return -1;
	}
	if (!yaml_parser_initialize(&p)) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "%s: out of memory", where);
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	if (!yaml_parser_load(&p, &doc)) {
		yaml_problem(&p, where, f);
		goto out;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	bool mapping = root && root->type == YAML_MAPPING_NODE;
	yaml_document_delete(&doc);
	if (!mapping) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s: the YAML must be a "
			      "mapping at the top (key: value lines)", where);
		goto out;
	}
	if (!yaml_parser_load(&p, &doc)) {
		yaml_problem(&p, where, f);
		goto out;
	}
	bool more = yaml_document_get_root_node(&doc) != NULL;
	yaml_document_delete(&doc);
	if (more)
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s: holds more than one "
			      "YAML document", where);
	rc = more ? -1 : 0;
out:
	yaml_parser_delete(&p);
	return rc;
}

/* --- network ------------------------------------------------------------- */

static bool is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* ADDRESS/PREFIX with a prefix that fits the address's family. */
static bool is_cidr(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	const char *slash = strchr(s, '/');
	char addr[64];
	char *end;

	if (!slash || slash == s || (size_t)(slash - s) >= sizeof addr ||
	    slash[1] < '0' || slash[1] > '9')
		return false;
	snprintf(addr, sizeof addr, "%.*s", (int)(slash - s), s);
	long prefix = strtol(slash + 1, &end, 10);
	if (*end)
		return false;
	if (inet_pton(AF_INET, addr, buf) == 1)
		return prefix <= 32;
	return inet_pton(AF_INET6, addr, buf) == 1 && prefix <= 128;
}

/* Each item of net's list key that is not ok: -1 naming it in f. */
static int check_list(struct json_object *net, const char *key,
		      bool (*ok)(const char *), const char *want,
		      const char *where, struct rpc_fault *f)
{
	struct json_object *list = member(net, key);

	for (size_t i = 0; i < length(list); i++)
		if (!ok(item_str(list, i))) {
			rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s.%s[%zu]: '%s' "
				      "is not %s", where, key, i,
				      item_str(list, i), want);
			return -1;
		}
	return 0;
}

static int check_net_lists(struct json_object *net, const char *where,
			   struct rpc_fault *f)
{
	const char *gw = rpc_member_str(net, "gateway");

	if (check_list(net, "addresses", is_cidr, "ADDRESS/PREFIX (IPv4 /0-32 "
		       "or IPv6 /0-128)", where, f) < 0 ||
	    check_list(net, "dns", is_ip, "an IP address", where, f) < 0)
		return -1;
	if (gw && !is_ip(gw)) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s.gateway: '%s' is not "
			      "an IP address", where, gw);
		return -1;
	}
	return 0;
}

static int check_net(struct json_object *net, size_t nics, unsigned *seen,
		     const char *where, struct rpc_fault *f)
{
	int64_t nic = rpc_member_int(net, "nic");
	bool dhcp = rpc_member_bool(net, "dhcp");
	size_t addrs = length(member(net, "addresses"));

	if ((size_t)nic >= nics) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s.nic: %d, but the VM has "
			      "%zu NIC(s)", where, (int)nic, nics);
		return -1;
	}
	if (*seen & 1u << nic) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s.nic: NIC %d is "
			      "configured twice", where, (int)nic);
		return -1;
	}
	*seen |= 1u << nic;
	if (dhcp == (addrs > 0)) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s: give either \"dhcp\": "
			      "true or addresses", where);
		return -1;
	}
	if (dhcp && (member(net, "gateway") || member(net, "dns"))) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s: gateway and dns come "
			      "from DHCP when dhcp is true", where);
		return -1;
	}
	return check_net_lists(net, where, f);
}

/* --- the block ----------------------------------------------------------- */

static int check_users(struct json_object *ci, struct json_object *old_users,
		       struct rpc_fault *f)
{
	struct json_object *users = member(ci, "users");
	char where[64];

	if (users && member(ci, "user_data")) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.cloud_init.users: "
			      "user_data replaces the generated user-data; give "
			      "the users in user_data instead");
		return -1;
	}
	for (size_t i = 0; i < length(users); i++) {
		snprintf(where, sizeof where, "config.cloud_init.users[%zu]", i);
		if (check_user(json_object_array_get_idx(users, i), old_users,
			       where, f) < 0)
			return -1;
	}
	return 0;
}

int cloud_init_check(struct json_object *config, struct json_object *old,
		     struct rpc_fault *f)
{
	struct json_object *ci = member(config, "cloud_init"), *nets;
	const char *vendor;
	unsigned seen = 0;
	char where[64];

	if (!ci)
		return 0;
	if (!emu_seed_attachable(rpc_member_str(config, "arch"),
				 rpc_member_str(config, "machine"))) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.cloud_init: machine "
			      "'%s' has no bus for the seed's CD-ROM (neither IDE "
			      "nor PCI); use machine pc or q35, or drop cloud_init",
			      rpc_member_str(config, "machine"));
		return -1;
	}
	nets = member(ci, "network");
	for (size_t i = 0; i < length(nets); i++) {
		snprintf(where, sizeof where, "config.cloud_init.network[%zu]", i);
		if (check_net(json_object_array_get_idx(nets, i),
			      length(member(config, "nics")), &seen, where, f) < 0)
			return -1;
	}
	if (rpc_member_str(ci, "user_data") &&
	    check_cloud_config(rpc_member_str(ci, "user_data"),
			       "config.cloud_init.user_data", f) < 0)
		return -1;
	vendor = rpc_member_str(ci, "vendor_data");
	if (vendor && starts_cloud_config(vendor) &&
	    check_cloud_config(vendor, "config.cloud_init.vendor_data", f) < 0)
		return -1;
	/* last: a password is hashed only once the rest is known good */
	return check_users(ci, member(member(old, "cloud_init"), "users"), f);
}
