/* Inside the console relay: what console.c (the keeper's stream, the log,
 * the scrollback) and console_viewers.c (who watches and types) share. */
#ifndef VMD_CONSOLE_CONSOLE_INT_H
#define VMD_CONSOLE_CONSOLE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <event2/bufferevent.h>
#include "console/console.h"
#include "keeper/keeper.h"
#include "console/peer.h"

struct viewer {
	struct console *con;
	struct conn *conn;            /* a protocol connection in raw mode */
	struct bufferevent *tcp;      /* or a raw TCP client */
	bool rw;
	bool held;                    /* not read: the guest is behind */
	bool typed;                   /* its first input is in the log */
	uid_t uid;                    /* (uid_t)-1: unknown (tcp) */
	pid_t pid;                    /* 0 for tcp */
	char peer[64];                /* tcp: the client's address:port */
	const char *reason;           /* why it leaves, for CONSOLE_DETACH */
	struct viewer *next;
};

/* Journal copying, done a piece per loop turn (console.c). */
enum console_copy {
	COPY_NONE,
	COPY_CATCH_UP,    /* the log lacks [jpos, copy_to): the stream waits */
	COPY_FILL,        /* the log is behind jpos after a failed write */
};

/* console_finish(): the keeper may still send its last bytes (WAIT), has
 * sent them or took too long (OVER); then the journal's end is copied
 * (TAIL), the log filled in (FILL), and the owner told (DONE). */
enum console_fin { FIN_NONE, FIN_WAIT, FIN_OVER, FIN_TAIL, FIN_FILL, FIN_DONE };

struct console {
	struct console_params p;      /* strings below are our copies */
	char *vm, *uuid, *log_dir;
	struct bufferevent *bev;      /* the keeper's socket */
	unsigned char hdr[KEEPER_HEADER_LEN];
	size_t hdr_len;               /* header bytes read on bev so far */
	uint64_t jpos;                /* journal offset of the next byte */
	bool keeper_eof;              /* the keeper closed bev */
	struct event *lost_timer;     /* the keeper closed: ask p.lost later */
	unsigned lost_tries;          /* p.lost calls since a keeper answered */
	int keeper_pidfd;             /* the connected keeper, -1 if unknown */
	struct tcpgate *gate;         /* tcp ports: the listener */
	struct conlog *log;
	struct spool *spool;        /* the keeper's journal of this port */
	struct evbuffer *early;       /* input before console_connect() */
	bool log_behind;              /* a write failed: the log lacks the
	                                 journal from its end to jpos */
	struct event *log_timer;      /* ... and tries again */
	bool log_said;                /* the failure is in vmd's log */
	struct event *work;           /* zero timer: the next piece of copy */
	enum console_copy copy;
	uint64_t copy_to;             /* COPY_CATCH_UP's end (UINT64_MAX: the
	                                 file's end) */
	uint64_t copy_from;           /* where the copy began, for vmd's log */
	enum console_fin fin;
	struct event *fin_timer;      /* FIN_WAIT's deadline */
	void (*finished)(void *ctx, int port);  /* at FIN_DONE */
	void *finished_ctx;
	unsigned char *ring;
	size_t ring_start, ring_len;
	struct viewer *viewers, *writer;
};

/* console.c: bytes typed by the writer, toward the guest. */
void console_to_guest(struct console *con, const void *buf, size_t len);

/* console_viewers.c */
/* Guest output to every viewer (dropping those too far behind). */
void viewers_send(struct console *con, const unsigned char *p, size_t n);
/* Stop or resume reading v (the writer, while the guest is behind). */
void viewer_hold(struct viewer *v, bool hold);
void viewer_drop(struct viewer *v, const char *reason);
/* A raw TCP client that passed the port's gate (tcpgate_admit). */
void viewers_admit_tcp(void *ctx, struct bufferevent *bev,
		       const struct peer *peer);

#endif
