/* Reading a whole file: the one helper for configuration, vocabularies,
 * dictionaries, key files and snapshots. */
#ifndef VIGIL_UTIL_FILE_H
#define VIGIL_UTIL_FILE_H

#include <stddef.h>

/* Reads the file at path into *out (malloc'ed, a NUL after the last byte;
 * *len does not count it). Reads until end of file, so pipes and /proc files
 * work too; more than max bytes is an error, found without reading further.
 * Returns 0, or VIGIL_EIO (cannot open or read), VIGIL_ETOOBIG, VIGIL_ENOMEM
 * with a message naming the path in err; *out is NULL then. */
int vigil_file_read(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen);

#endif
