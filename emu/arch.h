/* What differs between guest architectures, in one table: the emulator
 * binary, the default machine, the CPU model under TCG, the serial device
 * and the name the guest's kernel gives it, whether the machine has an
 * ISA bus, how virtio devices attach, and whether QEMU's system_powerdown
 * reaches the guest.  Every arch-specific choice of emu/ and daemon/ asks
 * here. */
#ifndef VMD_EMU_ARCH_H
#define VMD_EMU_ARCH_H

#include <stdbool.h>
#include <stddef.h>

#define EMU_ARCH_N 5   /* entries in the table */

struct emu_arch {
	const char *name;       /* vm-config's arch, QEMU's target name */
	const char *machine;    /* default machine type */
	const char *cpu_tcg;    /* -cpu under TCG; NULL: the machine's own */
	const char *serial;     /* the UART serial port 0 becomes */
	const char *console;    /* the guest kernel's name for it (console=) */
	int serial_max;         /* serial ports the machine has */
	bool isa;               /* an ISA bus: isa-parallel, VGA, IDE */
	const char *virtio;     /* virtio transport: "pci" or "ccw" */
	const char *powerdown;  /* what system_powerdown presses, or NULL:
	                           the machine has no power button */
	const char *kvm_host;   /* uname -m of a host whose KVM runs it */
};

/* The entry for arch, or NULL for one vmd does not know. */
const struct emu_arch *emu_arch(const char *name);
/* Every entry, in the order of vm-config.json's enum; n set. */
const struct emu_arch *emu_arch_all(size_t *n);
/* The host's architecture as uname -m gives it. */
const char *emu_host_arch(void);
/* Can KVM run arch here at all: only on a host of its own family. */
bool emu_arch_native(const struct emu_arch *a);

#endif
