/* The files of schemas/, compiled into the programs so that the daemon, the
 * CLI and the tests read one source of truth.  schemas/embed.sh generates
 * embedded.c from the JSON and SQL files at build time. */
#ifndef VMD_SCHEMAS_EMBEDDED_H
#define VMD_SCHEMAS_EMBEDDED_H

extern const char vmd_schema_protocol[];   /* schemas/protocol.json */
extern const char vmd_schema_vm_config[];  /* schemas/vm-config.json */

struct vmd_migration {
	int version;        /* from the file name: 0001-init.sql -> 1 */
	const char *name;   /* file name */
	const char *sql;
};
extern const struct vmd_migration vmd_migrations[]; /* ascending, {0} ends */

#endif
