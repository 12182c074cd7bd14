/* A host serial device passed into a guest.  vmd holds the host tty itself
 * and relays it to the QEMU chardev socket of that port, so a USB-serial
 * adapter that disappears and comes back (same path, e.g. a by-id link) is
 * reopened without restarting the guest. */
#ifndef VMD_CONSOLE_HOSTDEV_H
#define VMD_CONSOLE_HOSTDEV_H

#include <stddef.h>
#include <json-c/json.h>

struct hostdev;

/* Check a serial port config of type "host" before QEMU starts: the path
 * exists, resolves (by-id links) to a character device that is a tty, and
 * can be opened as user runas (NULL: as vmd).  0, or -1 with a message naming the path. */
int hostdev_check(struct json_object *port_cfg, const char *runas, char *err,
		  size_t errlen);

/* Start relaying: qemu_fd is connected to QEMU's chardev socket for this
 * port (owned).  Opens and configures the tty (baud, data bits, parity,
 * stop bits, flow control from port_cfg), sends SERIAL_DEVICE events when
 * the device goes and comes back.  NULL on ENOMEM only: a device missing
 * now is retried. */
struct hostdev *hostdev_open(int qemu_fd, const char *vm, const char *uuid,
			     int port, struct json_object *port_cfg,
			     const char *runas);
void hostdev_close(struct hostdev *h);
/* vm-show's view of the port: path, resolved, connected. */
void hostdev_describe(const struct hostdev *h, struct json_object *o);

#endif
