/* The gateway's websockets and console page (route handlers). */
#ifndef GW_CONSOLE_H
#define GW_CONSOLE_H

#include <stddef.h>

struct gw_req;

/* console.c: GET /api/v1/vms/{name}/console and GET /api/v1/events */
void console_ws(struct gw_req *r);
void events_ws(struct gw_req *r);

/* www.c: GET /console/{name} and GET /static/{file}; www_load reads the
 * files from dir once, at start. */
int www_load(const char *dir, char *err, size_t errlen);
void www_free(void);
void www_console_page(struct gw_req *r);
void www_static(struct gw_req *r);

#endif
