/* The cloud-init seed as QEMU's read-only CD-ROM (emu/cdrom.c). */
#ifndef VMD_EMU_CDROM_H
#define VMD_EMU_CDROM_H

#include <stdbool.h>
#include "emu/argv.h"

/* The fd set the seed's descriptor goes in: past the disks' (0..) and
 * their bases' (argv_disk.c: VMD_DISK_MAX + disk * EMU_CHAIN_MAX + k). */
#define EMU_SEED_FDSET (VMD_DISK_MAX + VMD_DISK_MAX * EMU_CHAIN_MAX)

/* Append to a the options that give the guest fd (an ISO image opened
 * read-only) as a CD-ROM: on the IDE bus of x86's pc, q35 and isapc
 * machines (ide-cd), else on a virtio-scsi controller of its own
 * (scsi-cd).  0, or -1 when memory ran out. */
int emu_argv_add_seed(struct emu_argv *a, int fd, const char *arch,
		      const char *machine);
/* The machine (NULL: arch's default) has a bus for that CD-ROM: false for
 * x86's microvm, which has neither IDE nor PCI (true when arch is NULL,
 * unknown: a config not filled yet). */
bool emu_seed_attachable(const char *arch, const char *machine);

#endif
