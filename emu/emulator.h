/* The emulators of this host, one per guest architecture (emu/arch.h):
 * which binary, its version and machine types.  Asking costs two QEMU runs
 * per arch, so the answer is cached like the KVM probe's verdict: it holds
 * for one host boot and one binary (emu_probe_cache_key). */
#ifndef VMD_EMU_EMULATOR_H
#define VMD_EMU_EMULATOR_H

#include <json-c/json.h>
#include "emu/arch.h"

/* "--qemu PATH" or "--qemu ARCH=PATH": *arch is NULL for the former (the
 * x86_64 binary).  -1 when ARCH is not one vmd knows. */
int emu_qemu_option(const char *opt, const struct emu_arch **arch,
		    const char **path);

/* qemu-system binary for an arch: "x86_64" -> default_qemu (whatever its
 * name), "aarch64" -> qemu-system-aarch64 beside it (or in /usr/bin).
 * NULL for a name that could not be a QEMU target.  Caller frees. */
char *emu_qemu_for_arch(const char *arch, const char *default_qemu);

/* The binary for arch: set[i] (--qemu ARCH=PATH, i as in emu_arch_all)
 * when given, else emu_qemu_for_arch(arch, default_qemu).  Caller frees. */
char *emu_qemu_path(const char *arch, char *const *set,
		    const char *default_qemu);

/* [{arch, path, version, machines}] for each arch whose binary (paths[i],
 * i as in emu_arch_all) runs; from cache_path when its keys still match,
 * else asked and saved there.  scratch: a directory for QEMU's output. */
struct json_object *emu_emulators(char *const *paths, const char *scratch,
				  const char *cache_path);

#endif
