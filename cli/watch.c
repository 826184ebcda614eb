/* SPDX-License-Identifier: MIT */
/* smr watch: a line per new version, blocking between them
 * (smr_channel_wait); each version's table validated once (struct
 * table_cache). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"

static const char watch_help[] =
    "Usage: smr watch [OPTIONS] CHANNEL\n"
    "Print \"version=V size=S keys=K\" for the current version, then one such\n"
    "line per new version as it is published (keys=- if the payload is not\n"
    "a table).  Blocks between versions (futex wake-up, no polling; once a\n"
    "second it checks whether the channel was removed).  Versions published\n"
    "faster than they are read are seen as one: V tells.  Each version's\n"
    "checksum is verified before its line: a corrupt one ends the watch\n"
    "(status 4).\n"
    "\n"
    "Options:\n"
    "  --count N            exit after N lines (the first included)\n"
    "  --timeout SECONDS    exit with status 1 when no new version comes\n"
    "                       within SECONDS (fractions allowed)\n"
    "  --json               NDJSON: one object per version instead of the\n"
    "                       line, {\"version\": V, \"size\": S, \"keys\": K}\n"
    "                       (K null if the payload is not a table)\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 --count reached; 1 --timeout expired; 2 usage; 4 channel\n"
    "error (the channel was removed, a checksum mismatch); 6 system.\n";

/* Print a line for the current version; *version = it (kept if none). */
static int watch_line(const char *ch, smr_channel_reader *r,
                      struct table_cache *tc, bool json, uint64_t *version,
                      bool *printed) {
  smr_channel_guard g;
  *printed = false;
  int e = smr_channel_read(r, &g);
  if (e == -ENODATA)
    return XS_OK;
  if (e < 0)
    return read_error(ch, r, e);
  const smr_table *t;
  int te = table_of(tc, &g, &t);
  uint64_t keys = te == 0 ? smr_table_count(t) : 0;
  uint64_t v = g.version, size = g.size;
  smr_channel_release(r, &g);
  *version = v;
  *printed = true;
  char kbuf[24];
  snprintf(kbuf, sizeof kbuf, "%" PRIu64, keys);
  if (json)
    printf("{\"version\": %" PRIu64 ", \"size\": %" PRIu64 ", \"keys\": %s}\n",
           v, size, te == 0 ? kbuf : "null");
  else
    printf("version=%" PRIu64 " size=%" PRIu64 " keys=%s\n", v, size,
           te == 0 ? kbuf : "-");
  return flush_stdout();
}

int cmd_watch(int argc, char **argv) {
  enum { O_COUNT = 256, O_TIMEOUT, O_JSON };
  static const struct option opts[] = {
      {"count", required_argument, NULL, O_COUNT},
      {"timeout", required_argument, NULL, O_TIMEOUT},
      {"json", no_argument, NULL, O_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  uint64_t count = 0;
  int64_t timeout = -1;
  bool json = false;
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case O_COUNT:
      if (!parse_uint(optarg, 1, UINT64_MAX, &count))
        return usage_error("--count: expected a positive number, got '%s'",
                           optarg);
      break;
    case O_TIMEOUT:
      if (!parse_seconds(optarg, &timeout))
        return usage_error("--timeout: expected seconds, got '%s'", optarg);
      break;
    case O_JSON:
      json = true;
      break;
    case 'h':
      return print_text(watch_help);
    default:
      return bad_option(c, argv);
    }
  }
  if (argc - optind != 1)
    return usage_error("expected CHANNEL");
  const char *ch = argv[optind];
  smr_channel_reader *r;
  int e = open_reader(ch, &r);
  if (e != XS_OK)
    return e;
  struct table_cache tc = {0, NULL, 0, {0}};
  uint64_t version = 0, lines = 0;
  bool printed;
  int x = watch_line(ch, r, &tc, json, &version, &printed);
  lines += printed;
  int64_t deadline = timeout >= 0 ? now_ns() + timeout : INT64_MAX;
  while (x == XS_OK && (count == 0 || lines < count)) {
    int64_t left = deadline - now_ns();
    if (left <= 0) {
      msg("channel '%s': no new version within the timeout", ch);
      x = XS_NOTFOUND;
      break;
    }
    /* Slices of a second: a wait that times out tells whether the channel
     * was removed (-ESTALE). */
    e = smr_channel_wait(r, version, left < 1000000000 ? left : 1000000000);
    if (e == -ETIMEDOUT)
      continue;
    if (e < 0) {
      msg("channel '%s': %s", ch,
          e == -ESTALE ? "the channel was removed" : chan_strerror(e, false));
      x = XS_CHANNEL;
      break;
    }
    x = watch_line(ch, r, &tc, json, &version, &printed);
    lines += printed;
    if (printed && timeout >= 0)
      deadline = now_ns() + timeout;
  }
  smr_channel_reader_close(r);
  return x;
}
