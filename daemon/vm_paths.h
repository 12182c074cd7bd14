/* Every path of a VM's directories, spelled once.  The run directory
 * RUN/vms/UUID (in RAM, owned by vmd) holds what exists while a QEMU does:
 * its lock, QMP and console sockets, the keeper's sockets and journals,
 * the running config and the logs of QEMU and the keeper.  STATE/logs/UUID
 * holds the console logs, which outlive the VM's runs; STATE/seeds/UUID.iso
 * its cloud-init seed (seed.h). */
#ifndef VMD_DAEMON_VM_PATHS_H
#define VMD_DAEMON_VM_PATHS_H

#include <inttypes.h>
#include <stdio.h>

/* Files of the run directory. */
#define VM_RUN_LOCK "lock"
#define VM_RUN_QMP "qmp.sock"
#define VM_RUN_CONFIG "config.json"     /* what QEMU was started with */
#define VM_RUN_QEMU_LOG "qemu.log"
#define VM_RUN_KEEPER_LOG "keeper.log"
/* Per serial port N: console<N>.<kind>. */
#define VM_PORT_SOCK "sock"     /* QEMU's chardev socket */
#define VM_PORT_KEEP "keep"     /* the keeper's socket vmd connects to */
#define VM_PORT_TCP "tcp"       /* the tcp port's address, for vm-show */
#define VM_PORT_JOURNAL "journal" /* console<N>.<BASE>.journal (spool.h) */

/* RUN/vms/UUID, or RUN/vms with uuid NULL. */
static inline int vm_run_dir_path(char *buf, size_t cap, const char *run_root,
				  const char *uuid)
{
	return uuid ? snprintf(buf, cap, "%s/vms/%s", run_root, uuid)
		    : snprintf(buf, cap, "%s/vms", run_root);
}

/* STATE/logs/UUID, or STATE/logs with uuid NULL. */
static inline int vm_log_dir_path(char *buf, size_t cap, const char *state_root,
				  const char *uuid)
{
	return uuid ? snprintf(buf, cap, "%s/logs/%s", state_root, uuid)
		    : snprintf(buf, cap, "%s/logs", state_root);
}

/* STATE/seeds/UUID.iso, or STATE/seeds with uuid NULL. */
static inline int vm_seed_path(char *buf, size_t cap, const char *state_root,
			       const char *uuid)
{
	return uuid ? snprintf(buf, cap, "%s/seeds/%s.iso", state_root, uuid)
		    : snprintf(buf, cap, "%s/seeds", state_root);
}

/* A file of the run directory dir (one of VM_RUN_*). */
static inline int vm_run_path(char *buf, size_t cap, const char *dir,
			      const char *file)
{
	return snprintf(buf, cap, "%s/%s", dir, file);
}

/* Serial port n's file of kind (one of VM_PORT_* but the journal). */
static inline int vm_port_path(char *buf, size_t cap, const char *dir, int n,
			       const char *kind)
{
	return snprintf(buf, cap, "%s/console%d.%s", dir, n, kind);
}

/* Serial port n's journal whose first byte is log offset base. */
static inline int vm_journal_path(char *buf, size_t cap, const char *dir,
				  int n, uint64_t base)
{
	return snprintf(buf, cap, "%s/console%d.%016" PRIu64 "." VM_PORT_JOURNAL,
			dir, n, base);
}

#endif
