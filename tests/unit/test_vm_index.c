/* The VM look-up index: by name and by uuid, through growth, renames and
 * removals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "daemon/vm.h"
#include "daemon/vm_index.h"

#define N 5000

static struct vm *make(int i)
{
	struct vm *vm = calloc(1, sizeof *vm);
	char name[32];

	snprintf(name, sizeof name, "vm-%d", i);
	vm->name = strdup(name);
	snprintf(vm->uuid, sizeof vm->uuid, "00000000-0000-4000-8000-%012d", i);
	return vm;
}

static void test_find_grow_rename_remove(void **state)
{
	static struct vm *v[N];
	char key[64];

	(void)state;
	for (int i = 0; i < N; i++) {
		v[i] = make(i);
		assert_int_equal(vm_index_add(v[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "vm-%d", i);
		assert_ptr_equal(vm_index_find(key), v[i]);
		assert_ptr_equal(vm_index_find(v[i]->uuid), v[i]);
	}
	assert_null(vm_index_find("vm-"));
	assert_null(vm_index_find("vm-5000"));

	/* rename: old name gone, new name found, uuid unchanged */
	vm_index_del(v[7]);
	free(v[7]->name);
	v[7]->name = strdup("renamed");
	assert_int_equal(vm_index_add(v[7]), 0);
	assert_null(vm_index_find("vm-7"));
	assert_ptr_equal(vm_index_find("renamed"), v[7]);
	assert_ptr_equal(vm_index_find(v[7]->uuid), v[7]);

	/* remove every other VM */
	for (int i = 0; i < N; i += 2)
		vm_index_del(v[i]);
	for (int i = 0; i < N; i++) {
		int gone = i % 2 == 0;
		struct vm *got = vm_index_find(v[i]->uuid);
		assert_true(gone ? got == NULL : got == v[i]);
	}
	vm_index_clear();
	assert_null(vm_index_find(v[1]->uuid));
	for (int i = 0; i < N; i++) {
		free(v[i]->name);
		free(v[i]);
	}
}

/* A name may look like another VM's uuid: the name wins, as vm_find has
 * always done. */
static void test_name_before_uuid(void **state)
{
	struct vm *a = make(1), *b = make(2);

	(void)state;
	free(b->name);
	b->name = strdup(a->uuid);
	assert_int_equal(vm_index_add(a), 0);
	assert_int_equal(vm_index_add(b), 0);
	assert_ptr_equal(vm_index_find(a->uuid), b);
	assert_ptr_equal(vm_index_find("vm-1"), a);
	vm_index_clear();
	free(a->name);
	free(b->name);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_grow_rename_remove),
		cmocka_unit_test(test_name_before_uuid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
