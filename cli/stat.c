/* SPDX-License-Identifier: MIT */
/* smr stat: a channel's state as text or JSON (smr_channel_stat), and its
 * table's key count through a brief verifying reader. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char stat_help[] =
    "Usage: smr stat [OPTIONS] CHANNEL\n"
    "Show CHANNEL's state: the current version and size, whether its\n"
    "checksum verifies (skipped when every reader slot is taken: verifying\n"
    "needs one), the table's key count, the writer (pid, alive), the\n"
    "publish and dead-reader counts, each buffer (version, size, file size,\n"
    "readers pinning it, current) and each reader slot (pid, alive, version\n"
    "pinned now, last version read, lag behind the current one).\n"
    "\n"
    "Options:\n"
    "  --json       one JSON object instead of text (a channel name that is\n"
    "               not UTF-8: each bad byte as \\u00XX, the exact bytes in\n"
    "               \"channel_hex\")\n"
    "  -h, --help   this help\n"
    "\n"
    "Exit status: 0 shown (also when nothing is published yet); 2 usage;\n"
    "4 channel error; 6 system.\n";

static const char *checksum_name(int c) {
  switch (c) {
  case SMR_CHANNEL_CHECKSUM_NONE:
    return "none";
  case SMR_CHANNEL_CHECKSUM_OK:
    return "ok";
  case SMR_CHANNEL_CHECKSUM_BAD:
    return "bad";
  default:
    return "skipped";
  }
}

struct table_info {
  int error;        /* 0: a table; else why not (or why unknown) */
  bool channel_err; /* error came from the channel, not the payload */
  uint64_t version, keys;
};

static void table_info_get(const char *ch, struct table_info *ti) {
  memset(ti, 0, sizeof *ti);
  struct table_read tr;
  enum table_step step;
  int e = table_read(ch, SMR_CHANNEL_VERIFY, &tr, &step);
  ti->error = e;
  ti->channel_err = e < 0 && step != STEP_TABLE;
  if (tr.held) {
    ti->version = tr.g.version;
    ti->keys = e == 0 ? smr_table_count(tr.t) : 0;
  }
  table_close(&tr);
}

static void stat_json(const char *ch, const struct smr_channel_stat *st,
                      const struct smr_channel_reader_stat *rs, size_t n,
                      const struct table_info *ti, const char *no_verify) {
  printf("{\n  ");
  json_channel(stdout, ch, ",\n  ");
  printf(",\n  \"version\": %" PRIu64 ",\n  \"size\": %" PRIu64
         ",\n  \"checksum\": \"%s\",\n",
         st->version, st->size, checksum_name(st->checksum));
  if (no_verify)
    printf("  \"checksum_note\": \"not verified: %s\",\n", no_verify);
  if (!st->version)
    printf("  \"table\": null,\n");
  else if (ti->error == 0)
    printf("  \"table\": {\"version\": %" PRIu64 ", \"keys\": %" PRIu64 "},\n",
           ti->version, ti->keys);
  else
    printf("  \"table\": null,\n  \"table_error\": \"%s%s\",\n",
           ti->channel_err ? "cannot read: " : "not a table: ",
           strerror(-ti->error));
  printf("  \"writer\": {\"pid\": %d, \"alive\": %s},\n", st->writer_pid,
         st->writer_alive ? "true" : "false");
  printf("  \"publishes\": %" PRIu64 ",\n  \"dead_reclaimed\": %" PRIu64 ",\n",
         st->publishes, st->dead_reclaimed);
  printf("  \"flags\": {\"durable\": %s, \"checksum\": %s, \"symmetric\": "
         "%s},\n",
         (st->flags & SMR_CHANNEL_DURABLE) ? "true" : "false",
         (st->flags & SMR_CHANNEL_NO_CHECKSUM) ? "false" : "true",
         (st->flags & SMR_CHANNEL_SYMMETRIC) ? "true" : "false");
  printf("  \"buffers\": [");
  for (unsigned i = 0; i < st->buffers; i++) {
    const struct smr_channel_buffer_stat *b = &st->buffer[i];
    printf("%s\n    {\"index\": %u, \"version\": %" PRIu64
           ", \"size\": %" PRIu64 ", \"file_size\": %" PRIu64
           ", \"pinned\": %u, \"current\": %s}",
           i ? "," : "", i, b->version, b->size, b->file_size, b->pinned,
           b->current ? "true" : "false");
  }
  printf("\n  ],\n  \"readers_max\": %u,\n  \"readers_in_use\": %u,\n",
         st->readers_max, st->readers);
  printf("  \"readers\": [");
  for (size_t i = 0; i < n; i++)
    printf("%s\n    {\"slot\": %u, \"pid\": %d, \"alive\": %s, "
           "\"pinned_version\": %" PRIu64 ", \"last_version\": %" PRIu64
           ", \"lag\": %" PRIu64 "}",
           i ? "," : "", rs[i].slot, rs[i].pid, rs[i].alive ? "true" : "false",
           rs[i].pinned_version, rs[i].last_version, rs[i].lag);
  printf("%s]\n}\n", n ? "\n  " : "");
}

static void stat_text(const char *ch, const struct smr_channel_stat *st,
                      const struct smr_channel_reader_stat *rs, size_t n,
                      const struct table_info *ti, const char *no_verify) {
  printf("channel         %s\n", ch);
  printf("version         %" PRIu64 "%s\n", st->version,
         st->version ? "" : " (nothing published yet)");
  printf("size            %" PRIu64 " bytes\n", st->size);
  printf("checksum        %s%s%s%s\n", checksum_name(st->checksum),
         no_verify ? " (not verified: " : "", no_verify ? no_verify : "",
         no_verify ? ")" : "");
  if (!st->version)
    printf("table           -\n");
  else if (ti->error == 0)
    printf("table           %" PRIu64 " keys (version %" PRIu64 ")\n", ti->keys,
           ti->version);
  else
    printf("table           %s%s\n",
           ti->channel_err ? "cannot read: " : "not a table: ",
           strerror(-ti->error));
  printf("writer          pid %d, %s\n", st->writer_pid,
         st->writer_alive ? "alive" : "not running");
  printf("publishes       %" PRIu64 "\n", st->publishes);
  printf("dead reclaimed  %" PRIu64 "\n", st->dead_reclaimed);
  printf("flags          %s%s%s\n",
         (st->flags & SMR_CHANNEL_NO_CHECKSUM) ? " no-checksum" : " checksum",
         (st->flags & SMR_CHANNEL_DURABLE) ? " durable" : "",
         (st->flags & SMR_CHANNEL_SYMMETRIC) ? " symmetric" : "");
  printf("buffers         %u\n", st->buffers);
  printf("  %5s %12s %14s %14s %6s\n", "index", "version", "size", "file size",
         "pinned");
  for (unsigned i = 0; i < st->buffers; i++) {
    const struct smr_channel_buffer_stat *b = &st->buffer[i];
    printf("  %5u %12" PRIu64 " %14" PRIu64 " %14" PRIu64 " %6u%s\n", i,
           b->version, b->size, b->file_size, b->pinned,
           b->current ? "  current" : "");
  }
  printf("readers         %u in use of %u slots\n", st->readers,
         st->readers_max);
  if (n)
    printf("  %5s %8s %5s %12s %12s %8s\n", "slot", "pid", "alive", "pinned",
           "last", "lag");
  for (size_t i = 0; i < n; i++)
    printf("  %5u %8d %5s %12" PRIu64 " %12" PRIu64 " %8" PRIu64 "\n",
           rs[i].slot, rs[i].pid, rs[i].alive ? "yes" : "no",
           rs[i].pinned_version, rs[i].last_version, rs[i].lag);
}

int cmd_stat(int argc, char **argv) {
  bool json;
  int x = flag_option(argc, argv, "json", 0, stat_help, &json);
  if (x >= 0)
    return x;
  if (argc - optind != 1)
    return usage_error("expected CHANNEL");
  const char *ch = argv[optind];
  struct smr_channel_reader_stat *rs =
      calloc(SMR_CHANNEL_MAX_READERS, sizeof *rs);
  if (!rs) {
    msg("out of memory");
    return XS_SYSTEM;
  }
  struct smr_channel_stat st;
  size_t n = 0;
  int e = smr_channel_stat(ch, SMR_CHANNEL_STAT_VERIFY, &st, rs,
                           SMR_CHANNEL_MAX_READERS, &n);
  /* Verifying opens a reader; when it cannot (every slot taken, or no
   * permission to join) the library skips the checksum: say why. */
  const char *no_verify = NULL;
  if (e == 0 && st.version && st.checksum == SMR_CHANNEL_CHECKSUM_SKIP)
    no_verify = (size_t)st.readers >= st.readers_max
                    ? "every reader slot is taken"
                    : "cannot join the channel as a reader";
  if (e < 0) {
    free(rs);
    msg("channel '%s': cannot inspect: %s", ch, chan_strerror(e, false));
    return XS_CHANNEL;
  }
  if (n > SMR_CHANNEL_MAX_READERS)
    n = SMR_CHANNEL_MAX_READERS;
  /* After the statistics, so this brief reader is not listed in them. */
  struct table_info ti;
  memset(&ti, 0, sizeof ti);
  if (st.version)
    table_info_get(ch, &ti);
  if (json)
    stat_json(ch, &st, rs, n, &ti, no_verify);
  else
    stat_text(ch, &st, rs, n, &ti, no_verify);
  free(rs);
  return flush_stdout();
}
