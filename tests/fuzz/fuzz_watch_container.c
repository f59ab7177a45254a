/* libFuzzer target: the watcher's container completeness check
 * (watch_container_complete: AVI RIFF chunks, MP4 boxes, Matroska segment
 * sizes) on arbitrary bytes in a memfd, as a camera upload would be. It must
 * end quickly (libFuzzer's -timeout catches loops) and say 0 or 1. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vigil/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int fd = -1;
  if (fd < 0 && (fd = memfd_create("fuzz_watch", MFD_CLOEXEC)) < 0) abort();
  if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) abort();
  char why[256] = "";
  int r = watch_container_complete(fd, (long long)size, why, sizeof why);
  if (r != 0 && r != 1) abort();
  if (r == 0 && !why[0]) abort(); /* a refusal says why */
  /* the same bytes claimed to be longer than they are (a file still growing) */
  r = watch_container_complete(fd, (long long)size + 4096, why, sizeof why);
  if (r != 0 && r != 1) abort();
  return 0;
}
