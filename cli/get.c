/* smr get: print the value of each key.  The values are copied out under
 * the guard and printed after its release. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char get_help[] =
    "Usage: smr get [OPTIONS] CHANNEL KEY...\n"
    "Print the value of each KEY in CHANNEL's table, one per line (the raw\n"
    "bytes, then \\n), in the order given.  A key missing from the table is\n"
    "named on stderr and the others are printed.  Use -- before keys that\n"
    "start with '-'.  The table is not validated or checksummed as a whole\n"
    "(a lookup costs the same in any size of table): each lookup checks\n"
    "the bytes it reads, and the payload's checksum is verified when a key\n"
    "is missing or the table is corrupt, so a missing key is reported only\n"
    "for intact data, and a corrupt payload prints nothing (status 4 or 5).\n"
    "A changed value byte that keeps the table's structure is not noticed:\n"
    "smr dump verifies the whole payload.\n"
    "\n"
    "Options:\n"
    "  -h, --help   this help\n"
    "\n"
    "Exit status: 0 every key found; 1 a key missing, or nothing published;\n"
    "2 usage; 4 channel error (a checksum mismatch included); 5 the payload\n"
    "is not a table; 6 system (writing the output included).\n";

/* The values found, then a message per missing key: XS_OK, XS_NOTFOUND
 * (a key missing) or write_error()'s status. */
static int print_values(const char *ch, const char *out, size_t outlen,
                        char **keys, int nkeys, const bool *missing,
                        uint64_t version) {
  fwrite(out, 1, outlen, stdout);
  int x = flush_stdout();
  for (int i = 0; i < nkeys && x == XS_OK; i++)
    if (missing[i])
      msg("channel '%s': no key '%s' in version %" PRIu64, ch, keys[i],
          version);
  for (int i = 0; i < nkeys && x == XS_OK; i++)
    if (missing[i])
      x = XS_NOTFOUND;
  return x;
}

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
  struct table_read tr;
  int x = open_table_lazy(ch, &tr);
  if (x != XS_OK)
    return x;
  /* Copy the values out under the guard, print after releasing it. */
  char *out = NULL;
  size_t outlen = 0;
  FILE *mem = open_memstream(&out, &outlen);
  bool *missing = calloc((size_t)nkeys, sizeof *missing);
  if (!mem || !missing) {
    x = XS_SYSTEM;
  } else {
    for (int i = 0; i < nkeys && x == XS_OK; i++) {
      smr_table_value v;
      int e = table_get(ch, &tr, keys[i], strlen(keys[i]), &v);
      if (e == 0) {
        fwrite(v.data, 1, v.size, mem);
        fputc('\n', mem);
      } else if (e == -ENOENT) {
        missing[i] = true;
      } else {
        x = e; /* corrupt: the message is out, nothing is printed */
      }
    }
  }
  uint64_t version = tr.g.version;
  table_close(&tr);
  if (mem && fclose(mem) != 0)
    x = XS_SYSTEM;
  if (x == XS_SYSTEM)
    msg("out of memory");
  if (x == XS_OK)
    x = print_values(ch, out, outlen, keys, nkeys, missing, version);
  free(out);
  free(missing);
  return x;
}
