/* A VM's serial and parallel ports as vmd runs them: keepers, journals and
 * logs for console and tcp ports, loopback listeners for tcp ports, host
 * devices checked before QEMU starts and relayed after. */
#ifndef VMD_DAEMON_PORTS_H
#define VMD_DAEMON_PORTS_H

#include <stdint.h>
#include <json-c/json.h>
#include "daemon/vm.h"
#include "rpc/errors.h"

struct port_plan {
	int n;                               /* serial ports */
	char *journal[VMD_SERIAL_MAX];        /* the keeper's, console/tcp */
	uint64_t base[VMD_SERIAL_MAX];        /* log offset of journal byte 0 */
	int tcp_fd[VMD_SERIAL_MAX];           /* listening, tcp ports */
	char secret[VMD_SERIAL_MAX][40];      /* tcp ports; "" for no auth */
};

int ports_count(const struct vm *vm);
/* The config of serial port i (NULL: the default console of port 0). */
struct json_object *ports_cfg(const struct vm *vm, int i);
const char *ports_type(const struct vm *vm, int i);
/* vm-show's "ports" of a running VM, for a caller of role (enum
 * access_role): the secrets of tcp ports only for an admin. */
struct json_object *ports_describe(const struct vm *vm, int role);

/* Before QEMU starts: check host devices, bind tcp ports, name fresh
 * journals.  -1 with the error in f. */
int ports_prepare(struct vm *vm, struct port_plan *pl, struct rpc_fault *f);
/* Before QEMU is spawned: start the keeper of the console and tcp ports;
 * conn_fds[i] is connected to QEMU's (not yet accepting) socket of port i,
 * consumed for those ports.  -1 with the error in f. */
int ports_start_keeper(struct vm *vm, struct port_plan *pl, int *conn_fds,
		       struct rpc_fault *f);
/* After QEMU is spawned: relay host ports (conn_fds[i], consumed) and
 * connect the consoles to the keeper. */
void ports_open(struct vm *vm, struct port_plan *pl, int *conn_fds);
void ports_plan_free(struct port_plan *pl);
/* QEMU has exited: the logs take the last bytes, in pieces from the
 * loop; then done(vm) (at once when there is no console), and
 * ports_close(). */
void ports_finish(struct vm *vm, void (*done)(struct vm *vm));
void ports_close(struct vm *vm);

/* Re-adopting a running QEMU: connect to its keepers (a keeper that is
 * gone is replaced) and host ports. */
void ports_adopt(struct vm *vm);
/* A QEMU that ended while vmd was away: copy into the logs what its
 * keepers journaled. */
void ports_salvage(struct vm *vm);

#endif
