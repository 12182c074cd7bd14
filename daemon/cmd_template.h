/* What the VM handlers (cmd_vm.c) ask of the template handlers
 * (cmd_template.c: vm-template; cmd_clone.c: vm-clone). */
#ifndef VMD_DAEMON_CMD_TEMPLATE_H
#define VMD_DAEMON_CMD_TEMPLATE_H

#include "daemon/dispatch.h"

/* vm-undefine of a template: -1 after refusing (InvalidState naming the
 * VMs whose disks are overlays on its bases), 0 when none are left. */
int template_refuse_undefine(struct call *c, const struct vm *vm);

#endif
