/* SPDX-License-Identifier: MIT */
/* Harness of README.md's snippet "channel": fill() and use(), then a main
 * that publishes into a channel under a fresh directory and follows it. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t used;
static void fill(void *buf, uint64_t n) {
  memset(buf, 'x', n);
}
static void use(const void *data, uint64_t size) {
  used += size;
  (void)data;
}

#include SMR_SNIPPET

int main(void) {
  char dir[] = "/tmp/smr-snippet-XXXXXX", name[64];
  if (!mkdtemp(dir))
    return 1;
  snprintf(name, sizeof name, "%s/features", dir);
  int rc = publish(name, 4096);
  if (rc == 0)
    rc = follow(name, 1); /* the current version: returns at once */
  if (rc == 0 && used != 4096)
    rc = -1;
  if (rc == 0)
    rc = publish(name, 100); /* a takeover writer: version 2 */
  if (rc == 0)
    rc = follow(name, 1);
  if (rc == 0 && used != 4196)
    rc = -1;
  if (rc != 0)
    fprintf(stderr, "channel snippet: %d %s\n", rc, smr_strerror(rc));
  smr_channel_unlink(name);
  rmdir(dir);
  return rc == 0 ? 0 : 1;
}
