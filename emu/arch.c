/* The guest architectures vmd knows (see emu/arch.h).  Checked against
 * QEMU 7.2 (Debian 12):
 *  - x86_64, i386: machine pc; 16550 UARTs on the ISA bus (up to 4);
 *    system_powerdown presses the ACPI power button.
 *  - aarch64: machine virt; one PL011 UART; system_powerdown is a GPIO
 *    power key (PL061, the guest's gpio-keys driver) when booted with a
 *    device tree as -kernel does, ACPI's GED with UEFI firmware.
 *  - riscv64: machine virt; one NS16550A UART; QEMU 7.2's riscv64 has no
 *    "max" CPU model, and virt has no power button (its syscon only lets
 *    the guest power itself off): vm-stop kills QEMU there.
 *  - s390x: machine s390-ccw-virtio; the SCLP console (and the SCLP line
 *    mode console as a second port); virtio devices on the channel
 *    subsystem (ccw); system_powerdown sends the SCLP "signal quiesce",
 *    on which Linux restarts into a halt that QEMU sees as a shutdown. */
#include "config.h"

#include <string.h>
#include <sys/utsname.h>

#include "emu/arch.h"

static const struct emu_arch arches[] = {
	{ "x86_64", "pc", "max", "isa-serial", "ttyS0", 4, true, "pci",
	  "ACPI power button", "x86_64" },
	{ "i386", "pc", "max", "isa-serial", "ttyS0", 4, true, "pci",
	  "ACPI power button", "x86_64" },
	{ "aarch64", "virt", "max", "PL011", "ttyAMA0", 1, false, "pci",
	  "GPIO power key", "aarch64" },
	{ "riscv64", "virt", NULL, "NS16550A", "ttyS0", 1, false, "pci",
	  NULL, "riscv64" },
	{ "s390x", "s390-ccw-virtio", "max", "SCLP console", "ttysclp0", 2,
	  false, "ccw", "SCLP signal quiesce", "s390x" },
};

_Static_assert(sizeof arches / sizeof arches[0] == EMU_ARCH_N,
	       "EMU_ARCH_N is the table's size");

const struct emu_arch *emu_arch(const char *name)
{
	for (size_t i = 0; name && i < sizeof arches / sizeof arches[0]; i++)
		if (strcmp(name, arches[i].name) == 0)
			return &arches[i];
	return NULL;
}

const struct emu_arch *emu_arch_all(size_t *n)
{
	*n = sizeof arches / sizeof arches[0];
	return arches;
}

const char *emu_host_arch(void)
{
	static struct utsname u;

	if (!u.machine[0] && uname(&u) < 0)
		return "unknown";
	return u.machine;
}

bool emu_arch_native(const struct emu_arch *a)
{
	return a && strcmp(a->kvm_host, emu_host_arch()) == 0;
}
