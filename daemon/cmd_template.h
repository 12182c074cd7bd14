/* What the VM handlers (cmd_vm.c) ask of the template handlers
 * (cmd_template.c: vm-template; cmd_clone.c: vm-clone). */
#ifndef VMD_DAEMON_CMD_TEMPLATE_H
#define VMD_DAEMON_CMD_TEMPLATE_H

#include "daemon/dispatch.h"

/* vm-undefine's and spec-apply prune's check: 0 unless vm is a template
 * that VMs on overlays of its bases still use, then -1 with f
 * (InvalidState naming them). */
int template_undefinable(const struct vm *vm, struct rpc_fault *f);

#endif
