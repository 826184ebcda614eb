/* SPDX-License-Identifier: MIT */
/* smr dump: print the table as TSV or CSV.  It writes while it holds the
 * guard, pinning one buffer of the channel's K, which the writer simply
 * does not reuse meanwhile. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

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

/* The table's entries as TSV or CSV rows: flush_stdout()'s status. */
static int print_table(const smr_table *t, bool csv, bool crlf) {
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
  return flush_stdout();
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
  struct table_read tr;
  int x = open_table(ch, &tr);
  if (x != XS_OK)
    return x;
  uint64_t bad = csv ? 0 : tsv_unprintable(tr.t, crlf);
  if (bad) {
    msg("channel '%s': entry %" PRIu64 " of version %" PRIu64
        " holds a tab or a newline (or its value ends with \\r), which TSV "
        "cannot carry: use --csv",
        ch, bad, tr.g.version);
    x = XS_NOTABLE;
  } else {
    x = print_table(tr.t, csv, crlf);
  }
  table_close(&tr);
  return x;
}
