/* Name and uuid look-up of the VM registry (vm.c keeps it in step). */
#ifndef VMD_DAEMON_VM_INDEX_H
#define VMD_DAEMON_VM_INDEX_H

struct vm;

int vm_index_add(struct vm *vm);      /* -1 on ENOMEM */
void vm_index_del(struct vm *vm);     /* before vm->name changes or vm goes */
struct vm *vm_index_find(const char *name_or_uuid);
void vm_index_clear(void);

#endif
