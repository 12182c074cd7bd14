/* A VM's serial and parallel ports as vmd runs them: journals and logs for
 * console and tcp ports, loopback listeners for tcp ports, host devices
 * checked before QEMU starts and relayed after. */
#ifndef VMD_DAEMON_PORTS_H
#define VMD_DAEMON_PORTS_H

#include <stdint.h>
#include <json-c/json.h>
#include "daemon/vm.h"

struct call;

struct port_plan {
	int n;                               /* serial ports */
	char *journal[VM_MAX_SERIAL];        /* QEMU logfile, console/tcp */
	uint64_t base[VM_MAX_SERIAL];        /* log offset of journal byte 0 */
	int tcp_fd[VM_MAX_SERIAL];           /* listening, tcp ports */
};

int ports_count(const struct vm *vm);
/* The config of serial port i (NULL: the default console of port 0). */
struct json_object *ports_cfg(const struct vm *vm, int i);
const char *ports_type(const struct vm *vm, int i);

/* Before QEMU starts: check host devices, bind tcp ports, name fresh
 * journals.  -1 after replying the error to c. */
int ports_prepare(struct vm *vm, struct port_plan *pl, struct call *c);
/* After QEMU is spawned: relay each port; conn_fds[i] is connected to
 * QEMU's socket of port i (consumed). */
void ports_open(struct vm *vm, struct port_plan *pl, int *conn_fds);
void ports_plan_free(struct port_plan *pl);
void ports_close(struct vm *vm);

/* Re-adopting a running QEMU: open the consoles from the journals QEMU
 * writes (not yet connected) ... */
void ports_adopt_open(struct vm *vm);
/* ... and, with the guest paused, copy what it printed meanwhile into the
 * logs and connect every port's socket. */
void ports_adopt_connect(struct vm *vm);

#endif
