/* At vmd's start: the temporary files of jobs a killed vmd left in its
 * pools are put in place (their rows were stored) or removed, each said
 * in the log. */
#ifndef VMD_DAEMON_POOL_SWEEP_H
#define VMD_DAEMON_POOL_SWEEP_H

#include "daemon/store.h"

void pool_sweep(struct store *s);

#endif
