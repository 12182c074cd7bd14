/* Look-up of VMs by name and by uuid in constant time.  Every request names
 * a VM, and a host may define tens of thousands: a linear scan per request
 * made vm-define slower with each VM defined.  Two chained hash tables whose
 * entries point at the VMs; the registry in vm.c owns the VMs. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/vm.h"
#include "daemon/vm_index.h"

struct entry {
	const char *key;      /* vm->name or vm->uuid */
	struct vm *vm;
	struct entry *next;
};

struct table {
	struct entry **b;
	size_t nb, n;
};

static struct table by_name, by_uuid;

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;  /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int grow(struct table *t)
{
	size_t nb = t->nb ? t->nb * 2 : 1024;
	struct entry **b = calloc(nb, sizeof *b);

	if (!b)
		return -1;
	for (size_t i = 0; i < t->nb; i++)
		for (struct entry *e = t->b[i], *next; e; e = next) {
			next = e->next;
			size_t j = hash(e->key) & (nb - 1);
			e->next = b[j];
			b[j] = e;
		}
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

static int put(struct table *t, const char *key, struct vm *vm)
{
	struct entry *e;

	if (t->n + 1 > t->nb * 3 / 4 && grow(t) < 0)
		return -1;
	if (!(e = malloc(sizeof *e)))
		return -1;
	size_t i = hash(key) & (t->nb - 1);
	*e = (struct entry){.key = key, .vm = vm, .next = t->b[i]};
	t->b[i] = e;
	t->n++;
	return 0;
}

static struct vm *get(const struct table *t, const char *key)
{
	if (!t->nb)
		return NULL;
	for (struct entry *e = t->b[hash(key) & (t->nb - 1)]; e; e = e->next)
		if (!strcmp(e->key, key))
			return e->vm;
	return NULL;
}

static void del(struct table *t, const char *key, const struct vm *vm)
{
	if (!t->nb)
		return;
	for (struct entry **pp = &t->b[hash(key) & (t->nb - 1)]; *pp; pp = &(*pp)->next)
		if ((*pp)->vm == vm) {
			struct entry *e = *pp;
			*pp = e->next;
			free(e);
			t->n--;
			return;
		}
}

int vm_index_add(struct vm *vm)
{
	if (put(&by_name, vm->name, vm) < 0)
		return -1;
	if (put(&by_uuid, vm->uuid, vm) < 0) {
		del(&by_name, vm->name, vm);
		return -1;
	}
	return 0;
}

void vm_index_del(struct vm *vm)
{
	del(&by_name, vm->name, vm);
	del(&by_uuid, vm->uuid, vm);
}

struct vm *vm_index_find(const char *key)
{
	struct vm *vm = get(&by_name, key);

	return vm ? vm : get(&by_uuid, key);
}

static void clear(struct table *t)
{
	for (size_t i = 0; i < t->nb; i++)
		for (struct entry *e = t->b[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(t->b);
	*t = (struct table){0};
}

void vm_index_clear(void)
{
	clear(&by_name);
	clear(&by_uuid);
}
