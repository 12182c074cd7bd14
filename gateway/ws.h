/* Websockets (RFC 6455) on evhttp's connections: the handshake, then
 * wslay frames the bytes of the request's own bufferevent. */
#ifndef GW_WS_H
#define GW_WS_H

#include <stddef.h>
#include <stdint.h>

struct evhttp_request;
struct ws;

#define WS_MSG_MAX (64 * 1024)      /* the largest message a client may send */
#define WS_OUT_HIGH (256 * 1024)    /* a peer this far behind: stop feeding it */

/* Close codes (RFC 6455 7.4.1) the gateway sends itself. */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_ERROR 1011

struct ws_cbs {
	/* A whole text or binary message. */
	void (*on_msg)(struct ws *ws, const uint8_t *data, size_t len, void *arg);
	/* What waited to go out fell below WS_OUT_HIGH / 2. */
	void (*on_drain)(struct ws *ws, void *arg);
	/* The connection is gone (either side, or an error); ws is freed on
	 * return and must not be used again. */
	void (*on_close)(struct ws *ws, void *arg);
};

/* NULL, or the reason (for a 403) that req's Origin may not open a
 * websocket: allowed are no Origin (not a browser), the gateway's own
 * (scheme://Host) and those in origins (NULL-terminated, may be NULL). */
const char *ws_origin_refused(struct evhttp_request *req, int tls,
			      const char *const *origins);

/* The client's offered subprotocols include one of protos (NULL-terminated):
 * its index, else -1. */
int ws_pick_protocol(struct evhttp_request *req, const char *const *protos);

/* 0 if req is a websocket upgrade ws_accept takes, else the status to
 * refuse it with: 400, or 426 (another version; the header saying ours
 * is added). */
int ws_check(struct evhttp_request *req);

/* Answers a websocket upgrade (101, echoing proto when not NULL) and takes
 * the connection from evhttp.  Without a ws_check first, a request that
 * is no valid upgrade gets a 400 and NULL. */
struct ws *ws_accept(struct evhttp_request *req, const char *proto,
		     const struct ws_cbs *cbs, void *arg);

/* Queues one binary (or text) message; -1 once closing. */
int ws_send(struct ws *ws, int text, const void *data, size_t len);
/* Bytes queued to the peer and not yet sent. */
size_t ws_pending(const struct ws *ws);
/* Stops (or resumes) reading the peer: back-pressure for its input. */
void ws_pause_read(struct ws *ws, int pause);
/* Sends a close frame and ends the connection once it is out (or after a
 * few seconds); on_close follows. */
void ws_close(struct ws *ws, uint16_t code, const char *reason);

/* Sec-WebSocket-Accept for key: 28 characters and a NUL in out[29]. */
int ws_accept_key(const char *key, char out[29]);

#endif
