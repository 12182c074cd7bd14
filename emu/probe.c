/* Does KVM really work here?  The probe boots a 512-byte boot sector that
 * prints "OK" on COM1, once under TCG and once under KVM, and times how
 * long QEMU takes from spawn to the two bytes on the serial port.  A
 * /dev/kvm that opens is not proof: a nested software KVM (kvm_pvm) opens,
 * creates VMs and then needs seconds to get through the BIOS, and a guest
 * with -cpu host dies there on an unsupported MSR.  The verdict "kvm"
 * needs the boot sector to print within the timeout; everything else, in
 * words, goes into the reason so an operator can see why. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "emu/argv.h"
#include "emu/probe.h"
#include "emu/spawn.h"

/* Loaded by the BIOS at 0x7c00, real mode:
 *
 *	mov  $0x3f8, %dx      ba f8 03     COM1 data port
 *	mov  $'O', %al        b0 4f
 *	out  %al, (%dx)       ee
 *	mov  $'K', %al        b0 4b
 *	out  %al, (%dx)       ee
 *	mov  $'\n', %al       b0 0a
 *	out  %al, (%dx)       ee
 *	cli                   fa
 * 1:	hlt                   f4
 *	jmp  1b               eb fd
 *	...zeros...
 *	.word 0xaa55          55 aa        at offset 510: "bootable"
 */
const unsigned char emu_probe_bootsector[512] = {
	0xba, 0xf8, 0x03,
	0xb0, 'O', 0xee,
	0xb0, 'K', 0xee,
	0xb0, '\n', 0xee,
	0xfa,
	0xf4,
	0xeb, 0xfd,
	[510] = 0x55, [511] = 0xaa,
};

/* snprintf for messages that may be cut short on purpose (a long path
 * in a 512-byte reason); GCC's truncation warning does not look inside. */
static void say(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	/* ECHILD when a SIGCHLD handler reaped it first: nothing to do. */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Waits for pid up to ms; kills it when it takes longer. */
static int wait_deadline(pid_t pid, int ms)
{
	double end = now_ms() + ms;
	struct timespec nap = { 0, 5 * 1000 * 1000 };
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() > end) {
			reap(pid);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
}

/* --- facts about the host -------------------------------------------- */

static void check_dev_kvm(struct emu_probe *out, char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	out->dev_kvm = fd >= 0;
	if (fd >= 0) {
		close(fd);
		say(why, len, "/dev/kvm present");
	} else if (errno == ENOENT) {
		say(why, len, "/dev/kvm absent");
	} else {
		say(why, len, "/dev/kvm cannot be opened read-write (%s)",
			 strerror(errno));
	}
}

/* Sets *flag to "vmx" or "svm" when a flags line of /proc/cpuinfo has it. */
static void check_cpu_flag(struct emu_probe *out, const char **flag)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char *line = NULL;
	size_t cap = 0;

	*flag = NULL;
	out->cpu_virt_flag = false;
	if (!f)
		return;
	while (!*flag && getline(&line, &cap, f) > 0) {
		char *save, *tok;
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save)) {
			if (strcmp(tok, "vmx") == 0 || strcmp(tok, "svm") == 0) {
				*flag = strcmp(tok, "vmx") == 0 ? "vmx" : "svm";
				break;
			}
		}
	}
	free(line);
	fclose(f);
	out->cpu_virt_flag = *flag != NULL;
}

static int is_kvm_vendor_module(const char *name)
{
	return strncmp(name, "kvm_", 4) == 0 && name[4] != '\0';
}

/* The KVM backend module: from /proc/modules, else from /sys/module (a
 * container may hide the former). */
static void check_module(struct emu_probe *out)
{
	FILE *f = fopen("/proc/modules", "re");
	char line[512];
	DIR *d;
	struct dirent *e;

	out->kvm_module[0] = '\0';
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, " \n")] = '\0';
			if (is_kvm_vendor_module(line)) {
				say(out->kvm_module, sizeof(out->kvm_module),
					 "%s", line);
				break;
			}
		}
		fclose(f);
		if (out->kvm_module[0])
			return;
	}
	d = opendir("/sys/module");
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (is_kvm_vendor_module(e->d_name)) {
			say(out->kvm_module, sizeof(out->kvm_module), "%s",
				 e->d_name);
			break;
		}
	}
	closedir(d);
}

int emu_probe_output(const char *qemu, const char *arg, const char *arg2,
		     const char *scratch, char *out, size_t len)
{
	char log[4096], err[256];
	char *argv[] = { (char *)qemu, (char *)arg, (char *)arg2, NULL };
	ssize_t n = -1;
	pid_t pid;
	int fd;

	say(log, sizeof(log), "%s/probe-%d-output.log", scratch, (int)getpid());
	pid = emu_spawn(argv, NULL, 0, log, err, sizeof(err));
	if (pid >= 0 && wait_deadline(pid, 5000) == 0 &&
	    (fd = open(log, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, out, len - 1);
		close(fd);
	}
	unlink(log);
	out[n > 0 ? n : 0] = '\0';
	return n > 0 ? 0 : -1;
}

/* "QEMU emulator version 7.2.22 (Debian ...)" -> "7.2.22". */
void emu_qemu_version(const char *qemu, const char *scratch, char *v,
		      size_t len)
{
	char text[512], *p;

	v[0] = '\0';
	if (emu_probe_output(qemu, "-version", NULL, scratch, text,
			     sizeof text) < 0)
		return;
	p = strstr(text, "version ");
	if (p)
		say(v, len, "%.*s", (int)strspn(p + 8, "0123456789."), p + 8);
}

/* --- one timed boot ------------------------------------------------------ */

/* Boots img under accel; returns ms until "OK" arrived on COM1, or -1 with
 * a reason in why (-2 when QEMU could not even be started). */
static double boot_once(const char *qemu, const char *img, const char *scratch,
			const char *accel, int timeout_ms, char *why, size_t len)
{
	char log[4096], drive[4200], machine[64], chardev[64], seen[64];
	char *argv[32];
	size_t nseen = 0;
	int sv[2], argc = 0;
	char *file = emu_opt_escape(img);
	double start, result = -1;
	pid_t pid;

	if (!file || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		say(why, len, "cannot set up the probe: %s", strerror(errno));
		free(file);
		return -1;
	}
	say(log, sizeof(log), "%s/probe-%d-%s.log", scratch, (int)getpid(), accel);
	/* snapshot: never lock or write the image, so probes may overlap */
	say(drive, sizeof(drive), "file=%s,format=raw,if=ide,snapshot=on", file);
	say(machine, sizeof(machine), "pc,accel=%s", accel);
	say(chardev, sizeof(chardev), "socket,id=com1,fd=%d", sv[1]);
	free(file);
	{
		const char *a[] = { qemu, "-nodefaults", "-no-user-config",
			"-display", "none", "-machine", machine, "-m", "16",
			"-drive", drive, "-chardev", chardev,
			"-serial", "chardev:com1", NULL };
		for (; a[argc]; argc++)
			argv[argc] = (char *)a[argc];
		argv[argc] = NULL;
	}
	start = now_ms();
	pid = emu_spawn(argv, &sv[1], 1, log, why, len);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -2;
	}
	for (;;) {
		double left = start + timeout_ms - now_ms();
		struct pollfd pfd = { sv[0], POLLIN, 0 };
		ssize_t n;
		int r;

		if (left <= 0) {
			say(why, len, "did not print within %d ms", timeout_ms);
			break;
		}
		r = poll(&pfd, 1, (int)left + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;   /* the deadline check above ends it */
		n = read(sv[0], seen + nseen, sizeof(seen) - 1 - nseen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			char tail[200];
			reap(pid);
			pid = -1;
			emu_log_tail(log, tail, sizeof(tail));
			say(why, len, "failed: QEMU exited before the boot sector "
				 "printed (%s)", tail[0] ? tail : "no message");
			break;
		}
		nseen += (size_t)n;
		seen[nseen] = '\0';
		if (strstr(seen, "OK")) {
			result = now_ms() - start;
			break;
		}
		if (nseen >= sizeof(seen) - 1) {   /* keep the last byte */
			seen[0] = seen[nseen - 1];
			nseen = 1;
		}
	}
	if (pid > 0)
		reap(pid);
	close(sv[0]);
	return result;
}

static int write_image(const char *path, char *why, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	ssize_t n;

	if (fd < 0) {
		say(why, len, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, emu_probe_bootsector, sizeof(emu_probe_bootsector));
	if (n != (ssize_t)sizeof(emu_probe_bootsector)) {
		say(why, len, "cannot write %s: %s", path,
			 n < 0 ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	return close(fd);
}

/* --- the verdict ------------------------------------------------------ */

static void fmt_ms(char *buf, size_t len, double ms)
{
	if (ms < 0)
		say(buf, len, "not measured");
	else
		say(buf, len, "%.0f ms", ms);
}

void emu_probe_run(const char *qemu, const char *scratch_dir, int timeout_ms,
		   struct emu_probe *out)
{
	char img[4096], kvm_why[320] = "", tcg_why[200] = "", dev[128], tcg[64];
	char kvm_part[400];
	const char *flag;

	memset(out, 0, sizeof(*out));
	out->verdict = "tcg";
	out->kvm_boot_ms = -1;
	out->tcg_boot_ms = -1;
	if (timeout_ms <= 0)
		timeout_ms = 1500;
	if (!qemu || !scratch_dir) {
		say(out->reason, sizeof(out->reason),
			 "probe not run: no QEMU binary or scratch directory");
		return;
	}
	/* Leaves room for file names and their escaped form below. */
	if (strlen(scratch_dir) > 1024) {
		say(out->reason, sizeof(out->reason),
		    "probe not run: scratch directory path too long");
		return;
	}
	check_dev_kvm(out, dev, sizeof(dev));
	check_cpu_flag(out, &flag);
	check_module(out);
	emu_qemu_version(qemu, scratch_dir, out->qemu_version,
			 sizeof out->qemu_version);

	say(img, sizeof(img), "%s/probe-%d-bootsector.img", scratch_dir, (int)getpid());
	if (write_image(img, kvm_why, sizeof(kvm_why)) < 0) {
		say(out->reason, sizeof(out->reason), "probe not run: %s",
			 kvm_why);
		return;
	}
	out->tcg_boot_ms = boot_once(qemu, img, scratch_dir, "tcg", timeout_ms,
				     tcg_why, sizeof(tcg_why));
	if (out->tcg_boot_ms < -1) {
		/* No QEMU at all: a KVM run would fail the same way. */
		out->tcg_boot_ms = -1;
		say(out->reason, sizeof(out->reason), "probe not run: %s; %s",
		    tcg_why, dev);
		return;
	}
	if (out->tcg_boot_ms >= 0)
		fmt_ms(tcg, sizeof(tcg), out->tcg_boot_ms);
	else
		say(tcg, sizeof(tcg), "failed");

	if (!out->dev_kvm) {
		say(kvm_part, sizeof(kvm_part), "KVM boot-sector probe "
			 "skipped (TCG: %s)", tcg);
	} else {
		out->kvm_boot_ms = boot_once(qemu, img, scratch_dir, "kvm",
					     timeout_ms, kvm_why, sizeof(kvm_why));
		if (out->kvm_boot_ms < 0) {
			out->kvm_boot_ms = -1;
			say(kvm_part, sizeof(kvm_part), "KVM boot-sector "
				 "probe %s (TCG: %s)", kvm_why, tcg);
		} else if (out->tcg_boot_ms >= 0 && out->kvm_boot_ms > 1000 &&
			   out->kvm_boot_ms > 10 * out->tcg_boot_ms) {
			/* A caller's generous timeout must not let a software
			 * KVM through: real KVM is never ten times slower
			 * than TCG at this. */
			say(kvm_part, sizeof(kvm_part), "KVM boot-sector "
				 "probe took %.0f ms, over ten times TCG's %s",
				 out->kvm_boot_ms, tcg);
		} else {
			out->kvm_usable = true;
			out->verdict = "kvm";
			say(kvm_part, sizeof(kvm_part), "KVM boot-sector "
				 "probe printed in %.0f ms (TCG: %s)",
				 out->kvm_boot_ms, tcg);
		}
	}
	unlink(img);
	say(out->reason, sizeof(out->reason), "%s; %s; %s; %s%s%s%s",
		 kvm_part, dev,
		 flag ? (strcmp(flag, "vmx") == 0 ? "vmx CPU flag" : "svm CPU flag")
		      : "no vmx/svm CPU flag",
		 out->kvm_module[0] ? "module " : "no KVM vendor module",
		 out->kvm_module,
		 tcg_why[0] ? "; TCG probe " : "", tcg_why);
}

/* --- cache ---------------------------------------------------------------- */

void emu_probe_cache_key(const char *qemu, char *key, size_t keylen)
{
	char boot_id[64] = "unknown";
	struct stat st;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (f) {
		if (fgets(boot_id, sizeof(boot_id), f))
			boot_id[strcspn(boot_id, "\n")] = '\0';
		fclose(f);
	}
	if (!qemu || stat(qemu, &st) < 0)
		memset(&st, 0, sizeof(st));
	say(key, keylen, "boot_id=%s qemu=%s size=%lld mtime=%lld.%09ld",
		 boot_id, qemu ? qemu : "", (long long)st.st_size,
		 (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
}

static int load_str(struct json_object *o, const char *k, char *dst, size_t len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	say(dst, len, "%s", json_object_get_string(v));
	return 0;
}

static int load_bool(struct json_object *o, const char *k, bool *dst)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return -1;
	*dst = json_object_get_boolean(v);
	return 0;
}

static int load_num(struct json_object *o, const char *k, double *dst)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !(json_object_is_type(v, json_type_double) ||
	      json_object_is_type(v, json_type_int)))
		return -1;
	*dst = json_object_get_double(v);
	return 0;
}

int emu_probe_load(const char *path, const char *key, struct emu_probe *out)
{
	struct json_object *o = json_object_from_file(path);
	struct emu_probe p;
	char file_key[4200], verdict[8];
	int r = -1;

	if (!o)
		return -1;
	memset(&p, 0, sizeof(p));
	if (!json_object_is_type(o, json_type_object) ||
	    load_str(o, "key", file_key, sizeof(file_key)) < 0 ||
	    strcmp(file_key, key) != 0 ||
	    load_str(o, "verdict", verdict, sizeof(verdict)) < 0 ||
	    load_bool(o, "kvm_usable", &p.kvm_usable) < 0 ||
	    load_str(o, "reason", p.reason, sizeof(p.reason)) < 0 ||
	    load_num(o, "kvm_boot_ms", &p.kvm_boot_ms) < 0 ||
	    load_num(o, "tcg_boot_ms", &p.tcg_boot_ms) < 0 ||
	    load_bool(o, "dev_kvm", &p.dev_kvm) < 0 ||
	    load_bool(o, "cpu_virt_flag", &p.cpu_virt_flag) < 0 ||
	    load_str(o, "kvm_module", p.kvm_module, sizeof(p.kvm_module)) < 0 ||
	    load_str(o, "qemu_version", p.qemu_version, sizeof(p.qemu_version)) < 0)
		goto out;
	/* A hand-edited file must not say kvm_usable with verdict tcg. */
	if (strcmp(verdict, p.kvm_usable ? "kvm" : "tcg") != 0)
		goto out;
	p.verdict = p.kvm_usable ? "kvm" : "tcg";
	*out = p;
	r = 0;
out:
	json_object_put(o);
	return r;
}

int emu_probe_save(const char *path, const char *key, const struct emu_probe *p)
{
	struct json_object *o = json_object_new_object();
	char tmp[4096];
	int r;

	if (!o || strlen(path) + 5 > sizeof(tmp)) {
		json_object_put(o);
		return -1;
	}
	json_object_object_add(o, "key", json_object_new_string(key));
	json_object_object_add(o, "verdict", json_object_new_string(
		p->kvm_usable ? "kvm" : "tcg"));
	json_object_object_add(o, "kvm_usable", json_object_new_boolean(p->kvm_usable));
	json_object_object_add(o, "reason", json_object_new_string(p->reason));
	json_object_object_add(o, "kvm_boot_ms", json_object_new_double(p->kvm_boot_ms));
	json_object_object_add(o, "tcg_boot_ms", json_object_new_double(p->tcg_boot_ms));
	json_object_object_add(o, "dev_kvm", json_object_new_boolean(p->dev_kvm));
	json_object_object_add(o, "cpu_virt_flag",
			       json_object_new_boolean(p->cpu_virt_flag));
	json_object_object_add(o, "kvm_module", json_object_new_string(p->kvm_module));
	json_object_object_add(o, "qemu_version",
			       json_object_new_string(p->qemu_version));
	/* Write then rename: a crash never leaves half a cache file. */
	say(tmp, sizeof(tmp), "%s.tmp", path);
	r = json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PRETTY);
	json_object_put(o);
	if (r < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}
