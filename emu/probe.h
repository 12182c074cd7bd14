/* Can this host run guests under KVM, really?  A /dev/kvm that opens, or a
 * KVM_CREATE_VM that succeeds, is not enough: a nested software KVM (such as
 * the kvm_pvm module) accepts both and then takes seconds to get a boot
 * sector through the BIOS.  The probe boots a tiny boot sector under QEMU
 * with -accel kvm and times it. */
#ifndef VMD_EMU_PROBE_H
#define VMD_EMU_PROBE_H

#include <stdbool.h>
#include <stddef.h>

struct emu_probe {
	bool kvm_usable;         /* verdict: auto picks kvm when true */
	const char *verdict;     /* "kvm" or "tcg" */
	char reason[512];        /* why, in words: timings, flags, modules */
	double kvm_boot_ms;      /* time to the boot sector's first byte, -1 if none */
	double tcg_boot_ms;      /* the same under TCG, -1 if not measured */
	bool dev_kvm;            /* /dev/kvm exists and opens read-write */
	bool cpu_virt_flag;      /* vmx or svm in /proc/cpuinfo */
	char kvm_module[64];     /* e.g. "kvm_intel", "kvm_amd", "kvm_pvm", "" */
	char qemu_version[64];   /* "7.2.22" */
};

/* Run the probe with the given qemu-system-x86_64 binary and a scratch
 * directory for the boot image.  Takes at most about timeout_ms (the KVM
 * boot gets that long; a KVM that needs longer is "not usable").  Never
 * fails: on any error the verdict is tcg with the error as reason. */
void emu_probe_run(const char *qemu, const char *scratch_dir, int timeout_ms,
		   struct emu_probe *out);

/* Cache: the verdict holds for one boot of the host and one QEMU binary.
 * key: a string built from /proc/sys/kernel/random/boot_id, the QEMU
 * binary's path, size and mtime. Load returns 0 when the file exists and
 * its key matches. */
void emu_probe_cache_key(const char *qemu, char *key, size_t keylen);
int emu_probe_load(const char *path, const char *key, struct emu_probe *out);
int emu_probe_save(const char *path, const char *key, const struct emu_probe *p);

/* Runs `qemu arg [arg2]` (at most 5 s) and reads what it printed into
 * out.  0, or -1 when it did not run, failed or printed nothing. */
int emu_probe_output(const char *qemu, const char *arg, const char *arg2,
		     const char *scratch, char *out, size_t len);
/* QEMU's version ("7.2.22"), "" when qemu does not run. */
void emu_qemu_version(const char *qemu, const char *scratch, char *v,
		      size_t len);

/* The boot sector used by the probe (512 bytes): writes "OK" to COM1 and
 * halts. */
extern const unsigned char emu_probe_bootsector[512];

#endif
