/* QEMU options for the cloud-init seed: a raw, read-only drive whose file
 * is the fd set holding vmd's descriptor (QEMU opens no host path), shown
 * to the guest as a CD-ROM, where cloud-init and blkid look for "cidata". */
#include "config.h"
#include <stdbool.h>
#include <string.h>
#include "emu/arch.h"
#include "emu/cdrom.h"

static bool is_x86(const char *arch)
{
	const struct emu_arch *a = emu_arch(arch);

	return a && a->isa;
}

/* pc (PIIX), q35 (ICH9 AHCI) and isapc (ISA IDE) come with an IDE bus;
 * microvm has none, and no PCI bus for virtio-scsi either (QEMU 7.2:
 * "No 'IDE' bus found", "No 'PCI' bus found"). */
static bool has_ide(const char *arch, const char *machine)
{
	return is_x86(arch) && strcmp(machine, "microvm");
}

bool emu_seed_attachable(const char *arch, const char *machine)
{
	return !arch || !machine || !is_x86(arch) || strcmp(machine, "microvm");
}

int emu_argv_add_seed(struct emu_argv *a, int fd, const char *arch,
		      const char *machine)
{
	machine = emu_machine(arch, machine);
	if (emu_argv_add(a, "-add-fd") < 0 ||
	    emu_argv_addf(a, "fd=%d,set=%d,opaque=cidata", fd, EMU_SEED_FDSET) < 0 ||
	    emu_argv_add(a, "-drive") < 0 ||
	    emu_argv_addf(a, "file=/dev/fdset/%d,format=raw,if=none,id=cidata,"
			  "readonly=on", EMU_SEED_FDSET) < 0 ||
	    emu_argv_add(a, "-device") < 0)
		return -1;
	if (has_ide(arch, machine))
		return emu_argv_add(a, "ide-cd,drive=cidata");
	const struct emu_arch *ea = emu_arch(arch);

	if (emu_argv_addf(a, "virtio-scsi-%s,id=cidata-scsi",
			  ea ? ea->virtio : "pci") < 0 ||
	    emu_argv_add(a, "-device") < 0)
		return -1;
	return emu_argv_add(a, "scsi-cd,drive=cidata,bus=cidata-scsi.0");
}
