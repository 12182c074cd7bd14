/* The serial console relay of one guest port: vmd reads QEMU's chardev
 * socket all the time, keeps the last bytes as scrollback, and copies the
 * stream to every attached viewer.  One viewer may write. */
#ifndef VMD_DAEMON_CONSOLE_H
#define VMD_DAEMON_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

struct conn;
struct console;

#define CONSOLE_SCROLLBACK (256 * 1024)
/* A viewer with more than this waiting unsent is too slow: it is dropped
 * rather than stalling the guest or the other viewers. */
#define CONSOLE_VIEWER_MAX_PENDING (4 * 1024 * 1024)

/* fd: connected to QEMU's chardev socket (owned). */
struct console *console_open(int fd, const char *vm, int port);
void console_close(struct console *con);
bool console_has_writer(const struct console *con);
/* Attach conn as a viewer: sends the scrollback, then live bytes.  -1 when
 * rw is asked while another writer is attached (Busy). */
int console_attach(struct console *con, struct conn *conn, bool rw);

#endif
