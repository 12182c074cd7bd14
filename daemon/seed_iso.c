/* An ISO 9660 image of a few small files, written with libisofs: the
 * cloud-init seed's file format (seed.c).  libisofs is made for this and
 * runs in vmd's process: no child to spawn, supervise and read, for an
 * image of a few KiB.  Rock Ridge and Joliet keep the names' case and
 * dashes ("meta-data"), which plain ISO 9660 would mangle. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>  /* libisofs.h needs it first */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* struct burn_source, which libisofs copies from libburn (not used here) */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>
#include "daemon/seed.h"

#define SECTOR 2048

static int lib_ready(void)
{
	static int ready;

	if (!ready && iso_init_with_flag(1) == 1) {
		/* its messages go to stderr otherwise: vmd reports them itself */
		iso_set_msgs_severities("NEVER", "NEVER", "vmd");
		ready = 1;
	}
	return ready ? 0 : -1;
}

static int add_file(IsoImage *img, const struct seed_file *sf)
{
	IsoStream *stream;
	unsigned char *copy = malloc(sf->len ? sf->len : 1);
	int rc;

	if (!copy)
		return ISO_OUT_OF_MEM;
	memcpy(copy, sf->data, sf->len);
	/* the stream owns copy from here on */
	if ((rc = iso_memory_stream_new(copy, sf->len, &stream)) < 0) {
		free(copy);
		return rc;
	}
	/* the new file takes the stream's reference */
	rc = iso_image_add_new_file(img, iso_image_get_root(img), sf->name,
				    stream, NULL);
	if (rc < 0)
		iso_stream_unref(stream);
	return rc;
}

static IsoImage *make_image(const char *label, const struct seed_file *files,
			    size_t n, int *rc)
{
	IsoImage *img;

	if ((*rc = iso_image_new(label, &img)) < 0)
		return NULL;
	iso_image_set_volume_id(img, label);
	for (size_t i = 0; i < n; i++)
		if ((*rc = add_file(img, &files[i])) < 0) {
			iso_image_unref(img);
			return NULL;
		}
	return img;
}

/* The image, sector by sector, into fd. */
static int write_image(IsoImage *img, int fd, char *err, size_t cap)
{
	IsoWriteOpts *opts;
	struct burn_source *src;
	unsigned char buf[SECTOR];
	int rc, n;

	if ((rc = iso_write_opts_new(&opts, 2)) < 0) /* 2: Rock Ridge + Joliet */
		goto fail;
	/* the label as given, lower-case, as genisoimage -V writes it */
	iso_write_opts_set_relaxed_vol_atts(opts, 1);
	rc = iso_image_create_burn_source(img, opts, &src);
	iso_write_opts_free(opts);
	if (rc < 0)
		goto fail;
	while ((n = src->read_xt(src, buf, SECTOR)) == SECTOR)
		if (write(fd, buf, SECTOR) != SECTOR) {
			snprintf(err, cap, "%s", strerror(errno ? errno : EIO));
			n = -2;
			break;
		}
	src->free_data(src);
	free(src);
	if (n == 0)
		return 0;
	if (n == -2)
		return -1;
	rc = ISO_WRITE_ERROR;
fail:
	snprintf(err, cap, "libisofs: %s", iso_error_to_msg(rc));
	return -1;
}

int seed_iso_write(const char *path, const char *label,
		   const struct seed_file *files, size_t n, char *err, size_t cap)
{
	char tmp[4200];
	IsoImage *img;
	int rc, fd;

	if (lib_ready() < 0) {
		snprintf(err, cap, "libisofs: cannot initialise");
		return -1;
	}
	if (!(img = make_image(label, files, n, &rc))) {
		snprintf(err, cap, "libisofs: %s", iso_error_to_msg(rc));
		return -1;
	}
	snprintf(tmp, sizeof tmp, "%s.new", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, cap, "%s: %s", tmp, strerror(errno));
		iso_image_unref(img);
		return -1;
	}
	rc = write_image(img, fd, err, cap);
	iso_image_unref(img);
	if (close(fd) < 0 && rc == 0) {
		snprintf(err, cap, "%s: %s", tmp, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, path) < 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		unlink(tmp);
	return rc;
}
