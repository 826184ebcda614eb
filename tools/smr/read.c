/* smr get, dump, stat and watch: the reading side.
 *
 * Each holds a guard only while it uses the payload's bytes (get copies
 * the values out first; dump writes while it holds one, pinning one buffer
 * of the channel's K, which the writer simply does not reuse meanwhile) and
 * validates a version's table once (struct table_cache). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "smr.h"

/* Open a reader on ch and pin its current payload; on error the message
 * is printed and the exit status returned (with *r closed). */
static int not_a_table(const char *ch, const smr_channel_guard *g, int e) {
  msg("channel '%s': the payload of version %" PRIu64 " (%" PRIu64
      " bytes) is not a table: %s",
      ch, g->version, g->size, strerror(-e));
  return XS_NOTABLE;
}

/* ---- get ----------------------------------------------------------------- */

static const char get_help[] =
    "Usage: smr get [OPTIONS] CHANNEL KEY...\n"
    "Print the value of each KEY in CHANNEL's table, one per line (the raw\n"
    "bytes, then \\n), in the order given.  A key missing from the table is\n"
    "named on stderr and the others are printed.  Use -- before keys that\n"
    "start with '-'.  The payload's checksum is verified first: a corrupt\n"
    "one prints nothing (status 4).\n"
    "\n"
    "Options:\n"
    "  -h, --help   this help\n"
    "\n"
    "Exit status: 0 every key found; 1 a key missing, or nothing published;\n"
    "2 usage; 4 channel error (a checksum mismatch included); 5 the payload\n"
    "is not a table; 6 system (writing the output included).\n";

int cmd_get(int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c != 'h')
      return bad_option(c, argv);
    return print_text(get_help);
  }
  if (argc - optind < 2)
    return usage_error("expected CHANNEL and at least one KEY");
  const char *ch = argv[optind];
  char **keys = argv + optind + 1;
  int nkeys = argc - optind - 1;
  smr_channel_reader *r;
  smr_channel_guard g;
  int x = open_and_read(ch, &r, &g);
  if (x != XS_OK)
    return x;
  struct table_cache tc = {0, NULL, 0, {0}};
  const smr_table *t;
  int e = table_of(&tc, &g, &t);
  /* Copy the values out under the guard, print after releasing it. */
  char *out = NULL;
  size_t outlen = 0;
  FILE *mem = e == 0 ? open_memstream(&out, &outlen) : NULL;
  bool *missing = calloc((size_t)nkeys, sizeof *missing);
  if (e == 0 && (!mem || !missing)) {
    x = XS_SYSTEM;
  } else if (e == 0) {
    for (int i = 0; i < nkeys; i++) {
      smr_table_value v;
      if (smr_table_get(t, keys[i], strlen(keys[i]), &v) == 0) {
        fwrite(v.data, 1, v.size, mem);
        fputc('\n', mem);
      } else {
        missing[i] = true;
      }
    }
  }
  uint64_t version = g.version;
  if (e < 0)
    x = not_a_table(ch, &g, e);
  smr_channel_release(r, &g);
  smr_channel_reader_close(r);
  if (mem && fclose(mem) != 0)
    x = XS_SYSTEM;
  if (x == XS_SYSTEM)
    msg("out of memory");
  if (x == XS_OK) {
    fwrite(out, 1, outlen, stdout);
    x = flush_stdout();
    for (int i = 0; i < nkeys && x == XS_OK; i++)
      if (missing[i])
        msg("channel '%s': no key '%s' in version %" PRIu64, ch, keys[i],
            version);
    for (int i = 0; i < nkeys && x == XS_OK; i++)
      if (missing[i])
        x = XS_NOTFOUND;
  }
  free(out);
  free(missing);
  return x;
}

/* ---- dump ---------------------------------------------------------------- */

static const char dump_help[] =
    "Usage: smr dump [OPTIONS] CHANNEL\n"
    "Print CHANNEL's table, one row per key in insertion order (a key added\n"
    "twice appears where its last row was).  The payload's checksum is\n"
    "verified first: a corrupt one prints nothing (status 4).\n"
    "\n"
    "Options:\n"
    "  --tsv        KEY<tab>VALUE<newline> (the default); refuses a table\n"
    "               whose keys or values hold a tab or a newline, or whose\n"
    "               values end with \\r, which TSV cannot carry\n"
    "  --csv        KEY,VALUE with RFC 4180 quoting: a field holding , \" \\r\n"
    "               or \\n is quoted, \" doubled\n"
    "  --crlf       end rows with \\r\\n instead of \\n\n"
    "  -h, --help   this help\n"
    "\n"
    "smr publish FILE then smr dump reproduces FILE byte for byte when FILE\n"
    "has two columns, no header, no key twice, \\n after every row (the last\n"
    "included) and, for CSV, quotes exactly the fields that hold , \" \\r or\n"
    "\\n.\n"
    "\n"
    "Exit status: 0 printed; 1 nothing published; 2 usage; 4 channel error (a\n"
    "checksum mismatch included); 5 not a table, or not printable as TSV;\n"
    "6 system (writing the output).\n";

/* A field for CSV: quoted iff it holds , " \r or \n. */
static void csv_field(FILE *f, const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n && p[i] != ',' && p[i] != '"' && p[i] != '\r' && p[i] != '\n')
    i++;
  if (i == n) {
    fwrite(p, 1, n, f);
    return;
  }
  fputc('"', f);
  for (;;) {
    const unsigned char *q = memchr(p, '"', n);
    size_t k = q ? (size_t)(q - p) + 1 : n;
    fwrite(p, 1, k, f);
    if (!q)
      break;
    fputc('"', f); /* the quote again */
    p += k;
    n -= k;
  }
  fputc('"', f);
}

/* TSV cannot carry this entry (the first one found, numbered from 1). */
static uint64_t tsv_unprintable(const smr_table *t, bool crlf) {
  uint64_t cur = 0, i = 0;
  smr_table_entry e;
  while (smr_table_next(t, &cur, &e) == 1) {
    i++;
    const unsigned char *v = e.value.data;
    if (memchr(e.key.data, '\t', e.key.size) ||
        memchr(e.key.data, '\n', e.key.size) ||
        memchr(e.value.data, '\t', e.value.size) ||
        memchr(e.value.data, '\n', e.value.size) ||
        (!crlf && e.value.size && v[e.value.size - 1] == '\r'))
      return i;
  }
  return 0;
}

int cmd_dump(int argc, char **argv) {
  enum { O_TSV = 256, O_CSV, O_CRLF };
  static const struct option opts[] = {{"tsv", no_argument, NULL, O_TSV},
                                       {"csv", no_argument, NULL, O_CSV},
                                       {"crlf", no_argument, NULL, O_CRLF},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool csv = false, crlf = false;
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case O_TSV:
      csv = false;
      break;
    case O_CSV:
      csv = true;
      break;
    case O_CRLF:
      crlf = true;
      break;
    case 'h':
      return print_text(dump_help);
    default:
      return bad_option(c, argv);
    }
  }
  if (argc - optind != 1)
    return usage_error("expected CHANNEL");
  const char *ch = argv[optind];
  smr_channel_reader *r;
  smr_channel_guard g;
  int x = open_and_read(ch, &r, &g);
  if (x != XS_OK)
    return x;
  struct table_cache tc = {0, NULL, 0, {0}};
  const smr_table *t;
  int e = table_of(&tc, &g, &t);
  uint64_t bad = e == 0 && !csv ? tsv_unprintable(t, crlf) : 0;
  if (e < 0) {
    x = not_a_table(ch, &g, e);
  } else if (bad) {
    msg("channel '%s': entry %" PRIu64 " of version %" PRIu64
        " holds a tab or a newline (or its value ends with \\r), which TSV "
        "cannot carry: use --csv",
        ch, bad, g.version);
    x = XS_NOTABLE;
  } else {
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    const char *eol = crlf ? "\r\n" : "\n";
    uint64_t cur = 0;
    smr_table_entry en;
    while (smr_table_next(t, &cur, &en) == 1) {
      if (csv) {
        csv_field(stdout, en.key.data, en.key.size);
        fputc(',', stdout);
        csv_field(stdout, en.value.data, en.value.size);
      } else {
        fwrite(en.key.data, 1, en.key.size, stdout);
        fputc('\t', stdout);
        fwrite(en.value.data, 1, en.value.size, stdout);
      }
      fputs(eol, stdout);
    }
    x = flush_stdout();
  }
  smr_channel_release(r, &g);
  smr_channel_reader_close(r);
  return x;
}

/* ---- stat ---------------------------------------------------------------- */

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

/* Well-formed UTF-8 (Unicode Table 3-7, the rule JSON parsers apply: no
 * overlong forms, no surrogates, nothing above U+10FFFF): per range of
 * lead bytes, the sequence's length and the second byte's range (the
 * other continuation bytes are 0x80..0xBF). */
static const struct utf8_lead {
  unsigned char first, last, len, lo, hi;
} utf8_leads[] = {
    {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF},
    {0xE1, 0xEC, 3, 0x80, 0xBF}, {0xED, 0xED, 3, 0x80, 0x9F},
    {0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
    {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F},
};

/* The length of the well-formed UTF-8 sequence at p (n > 0 bytes there),
 * or 0 if none starts there. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  if (p[0] < 0x80)
    return 1;
  for (size_t k = 0; k < sizeof utf8_leads / sizeof utf8_leads[0]; k++) {
    const struct utf8_lead *l = &utf8_leads[k];
    if (p[0] < l->first || p[0] > l->last)
      continue;
    if (n < l->len || p[1] < l->lo || p[1] > l->hi)
      return 0;
    for (size_t i = 2; i < l->len; i++)
      if (p[i] < 0x80 || p[i] > 0xBF)
        return 0;
    return l->len;
  }
  return 0;
}

/* A JSON string of the bytes s: quotes and backslashes escaped, control
 * bytes and bytes that are not part of well-formed UTF-8 as \u00XX (the
 * byte's value), valid UTF-8 as it is.  True if no byte needed \u00XX
 * for being invalid (the string then reproduces s exactly). */
static bool json_str(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  bool exact = true;
  putchar('"');
  while (n) {
    size_t k = utf8_len(p, n);
    if (k == 0 || *p < 0x20) {
      exact = exact && k != 0;
      printf("\\u%04x", *p);
      k = 1;
    } else if (*p == '"' || *p == '\\') {
      printf("\\%c", *p);
    } else {
      fwrite(p, 1, k, stdout);
    }
    p += k;
    n -= k;
  }
  putchar('"');
  return exact;
}

struct table_info {
  int error;        /* 0: a table; else why not (or why unknown) */
  bool channel_err; /* error came from the channel, not the payload */
  uint64_t version, keys;
};

static void table_info_get(const char *ch, struct table_info *ti) {
  memset(ti, 0, sizeof *ti);
  smr_channel_reader *r;
  int e = smr_channel_reader_open(ch, SMR_CHANNEL_VERIFY, &r);
  if (e < 0) {
    ti->error = e;
    ti->channel_err = true;
    return;
  }
  smr_channel_guard g;
  e = smr_channel_read(r, &g);
  if (e < 0) {
    ti->error = e;
    ti->channel_err = true;
  } else {
    struct table_cache tc = {0, NULL, 0, {0}};
    const smr_table *t;
    ti->error = table_of(&tc, &g, &t);
    ti->version = g.version;
    ti->keys = ti->error == 0 ? smr_table_count(t) : 0;
    smr_channel_release(r, &g);
  }
  smr_channel_reader_close(r);
}

static void stat_json(const char *ch, const struct smr_channel_stat *st,
                      const struct smr_channel_reader_stat *rs, size_t n,
                      const struct table_info *ti, const char *no_verify) {
  printf("{\n  \"channel\": ");
  if (!json_str(ch)) {
    /* Not UTF-8: the exact bytes too. */
    printf(",\n  \"channel_hex\": \"");
    for (const unsigned char *p = (const unsigned char *)ch; *p; p++)
      printf("%02x", *p);
    putchar('"');
  }
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
  enum { O_JSON = 256 };
  static const struct option opts[] = {{"json", no_argument, NULL, O_JSON},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool json = false;
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case O_JSON:
      json = true;
      break;
    case 'h':
      return print_text(stat_help);
    default:
      return bad_option(c, argv);
    }
  }
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

/* ---- watch --------------------------------------------------------------- */

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
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 --count reached; 1 --timeout expired; 2 usage; 4 channel\n"
    "error (the channel was removed, a checksum mismatch); 6 system.\n";

/* Print a line for the current version; *version = it (kept if none). */
static int watch_line(const char *ch, smr_channel_reader *r,
                      struct table_cache *tc, uint64_t *version,
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
  if (te == 0)
    printf("version=%" PRIu64 " size=%" PRIu64 " keys=%" PRIu64 "\n", v, size,
           keys);
  else
    printf("version=%" PRIu64 " size=%" PRIu64 " keys=-\n", v, size);
  return flush_stdout();
}

int cmd_watch(int argc, char **argv) {
  enum { O_COUNT = 256, O_TIMEOUT };
  static const struct option opts[] = {
      {"count", required_argument, NULL, O_COUNT},
      {"timeout", required_argument, NULL, O_TIMEOUT},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  uint64_t count = 0;
  int64_t timeout = -1;
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
  int x = watch_line(ch, r, &tc, &version, &printed);
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
    x = watch_line(ch, r, &tc, &version, &printed);
    lines += printed;
    if (printed && timeout >= 0)
      deadline = now_ns() + timeout;
  }
  smr_channel_reader_close(r);
  return x;
}
