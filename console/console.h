/* The serial console relay of one guest port (types console and tcp).  vmd
 * reads the port's keeper (keeper.h) all the time, appends every byte to
 * the port's persistent log (conlog), keeps the last bytes as scrollback,
 * and copies the stream to every attached viewer.  One viewer holds the
 * keyboard. */
#ifndef VMD_CONSOLE_CONSOLE_H
#define VMD_CONSOLE_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

struct conn;
struct console;

/* A viewer with more than this waiting unsent is too slow: it is dropped
 * rather than stalling the guest or the other viewers. */
#define CONSOLE_VIEWER_MAX_PENDING (4 * 1024 * 1024)
/* All viewers of a port together may have this much (plus one scrollback)
 * unsent; beyond it the one furthest behind is dropped, so many viewers
 * that do not read (one reader may open many connections) cost bounded
 * memory. */
#define CONSOLE_VIEWERS_MAX_PENDING (16 * 1024 * 1024)
/* While more than this waits to go to the guest, vmd stops reading the
 * writer (it is read again once half of it went): typing faster than the
 * guest reads costs no memory. */
#define CONSOLE_INPUT_MAX_PENDING (64 * 1024)

struct console_params {
	const char *vm, *uuid;
	int port;
	size_t scrollback;        /* bytes a new viewer gets first */
	size_t log_max;           /* bytes per log file */
	int log_count;            /* log files kept */
	const char *log_dir;      /* STATE/logs/UUID */
	const char *journal;      /* the keeper's journal of this port, or NULL */
	uint64_t journal_base;    /* log offset of the journal's byte 0 */
	int tcp_fd;               /* listening loopback TCP socket, or -1 */
	const char *secret;       /* what its clients must send first (see
	                             tcpgate.h), or NULL: "auth": "none" */
	/* The keeper closed its connection while the console stayed open:
	 * called a moment later (not when QEMU exited: vmd closes the console
	 * first). */
	void (*lost)(void *ctx, int port);
	void *lost_ctx;
};

/* fd: connected to the port's keeper (owned), or -1 to connect later with
 * console_connect().  NULL with err set when the log cannot open. */
struct console *console_open(int fd, const struct console_params *p,
			     char *err, size_t errlen);
void console_connect(struct console *con, int fd);
/* The keeper was lost and could not be reached now: ask p.lost again
 * later (each time later, up to a minute). */
void console_retry(struct console *con);
/* The keeper last connected still runs (it may be stopped, or its socket
 * gone); false if it exited or was never known. */
bool console_keeper_alive(const struct console *con);
/* Follow a new keeper on fd (or -1: console_connect() later), with its
 * journal (log offset base at its byte 0), once console_finish() took
 * what the lost one journaled. */
void console_rekeep(struct console *con, int fd, const char *journal,
		    uint64_t base);
/* QEMU has exited (or the keeper is gone): take the last bytes from the
 * keeper (waiting a moment for it to close) and whatever the log still
 * lacks from the journal, a piece per loop turn; then done(ctx, port). */
void console_finish(struct console *con, void (*done)(void *ctx, int port),
		    void *ctx);
/* console_finish() is under way. */
bool console_finishing(const struct console *con);
void console_close(struct console *con);

bool console_has_writer(const struct console *con);
/* For metrics: the log's end (every byte the guest sent on the port), and
 * the viewers attached now. */
uint64_t console_log_end(const struct console *con);
int console_viewer_count(const struct console *con);
/* vm-show's view of the port: viewers, writer, log_end, keeper, who is
 * attached, the TCP port; its secret only if admin. */
void console_describe(const struct console *con, struct json_object *o,
		      bool admin);
/* Attach conn as a viewer: sends the scrollback, then live bytes.  rw takes
 * the keyboard; with force it is taken from the current writer, who stays
 * attached read-only.  -1 when rw is asked without force while another
 * viewer writes (Busy). */
int console_attach(struct console *con, struct conn *conn, bool rw, bool force);

#endif
