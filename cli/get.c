/* SPDX-License-Identifier: MIT */
/* smr get: print the value of each key, as lines, NUL-terminated values
 * (-0) or one JSON object (--json).  The keys come from the command line
 * or, for a single KEY -, from standard input.  The output is built under
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
    "named on stderr and the others are printed; when several keys are asked\n"
    "(or they come from standard input) a missing key prints the placeholder\n"
    "instead, an empty value unless --missing says otherwise, so that line N\n"
    "is always key N's.  A single KEY - reads the keys from standard input,\n"
    "one per line.  Use -- before keys that start with '-'.  Every byte a\n"
    "lookup reads is verified against the payload's checksum first (the\n"
    "64 KiB blocks it falls in, not the whole payload): a mismatch prints\n"
    "nothing (status 4).  The table is not validated as a whole either:\n"
    "each lookup checks the bytes it reads (a corrupt structure: status 5).\n"
    "\n"
    "Options:\n"
    "  --json          one JSON object mapping each key to its value, null\n"
    "                  for a missing key (bytes that are not UTF-8 as\n"
    "                  \\u00XX, as in stat --json)\n"
    "  -0, --null      end each value with a NUL byte instead of \\n\n"
    "  --missing TEXT  the placeholder for a missing key (default: empty)\n"
    "  --no-verify     skip the checksum of the blocks read: it is then\n"
    "                  verified (the whole payload) only for a missing key\n"
    "                  or a corrupt table, so a flipped bit in a found value\n"
    "                  is printed unnoticed\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 every key found; 1 a key missing, or nothing published;\n"
    "2 usage; 3 the keys on standard input cannot be read; 4 channel error\n"
    "(a checksum mismatch included); 5 the payload is not a table; 6 system\n"
    "(writing the output included).\n";

struct key {
  const char *p;
  size_t n;
};

struct get_opts {
  bool json, nul, placeholder, no_verify;
  const char *missing;
};

/* The keys from standard input, one per line (without the \n): XS_OK with
 * *keys (one allocation each, *buf holding them) or XS_INPUT/XS_SYSTEM. */
static int stdin_keys(struct key **keys, size_t *n, char ***bufs) {
  size_t cap = 0;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  *keys = NULL;
  *bufs = NULL;
  *n = 0;
  while ((len = getline(&line, &lcap, stdin)) >= 0) {
    if (len > 0 && line[len - 1] == '\n')
      line[--len] = '\0';
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      struct key *k = realloc(*keys, cap * sizeof *k);
      char **b = realloc(*bufs, cap * sizeof *b);
      if (k)
        *keys = k;
      if (b)
        *bufs = b;
      if (!k || !b)
        break;
    }
    (*bufs)[*n] = line;
    (*keys)[(*n)++] = (struct key){line, (size_t)len};
    line = NULL;
    lcap = 0;
  }
  free(line);
  if (ferror(stdin)) {
    msg("cannot read the keys from standard input");
    return XS_INPUT;
  }
  if (!feof(stdin)) {
    msg("out of memory");
    return XS_SYSTEM;
  }
  return XS_OK;
}

/* Key i's value v (NULL: missing) in the output. */
static void put_value(FILE *f, const struct get_opts *o, size_t i,
                      const struct key *k, const smr_table_value *v) {
  if (o->json) {
    fputs(i ? ", " : "{", f);
    json_str(f, k->p, k->n);
    fputs(": ", f);
    if (v)
      json_str(f, v->data, v->size);
    else
      fputs("null", f);
    return;
  }
  if (v)
    fwrite(v->data, 1, v->size, f);
  else if (o->placeholder)
    fputs(o->missing, f);
  else
    return;
  fputc(o->nul ? '\0' : '\n', f);
}

/* Look every key up in tr's table, the output into mem, missing[i] for each
 * key not found: XS_OK, or table_get's status for a corrupt payload (the
 * message printed, nothing to print). */
static int lookup(const char *ch, struct table_read *tr,
                  const struct get_opts *o, const struct key *keys, size_t n,
                  FILE *mem, bool *missing) {
  for (size_t i = 0; i < n; i++) {
    smr_table_value v;
    int e = table_get(ch, tr, keys[i].p, keys[i].n, &v);
    if (e != 0 && e != -ENOENT)
      return e;
    missing[i] = e != 0;
    put_value(mem, o, i, &keys[i], missing[i] ? NULL : &v);
  }
  if (o->json)
    fputs(n ? "}\n" : "{}\n", mem);
  return XS_OK;
}

/* The output, then a message per missing key: XS_OK, XS_NOTFOUND (a key
 * missing) or write_error()'s status. */
static int print_values(const char *ch, const char *out, size_t outlen,
                        const struct key *keys, size_t n, const bool *missing,
                        uint64_t version) {
  fwrite(out, 1, outlen, stdout);
  int x = flush_stdout();
  for (size_t i = 0; i < n && x == XS_OK; i++)
    if (missing[i])
      msg("channel '%s': no key '%.*s' in version %" PRIu64, ch, (int)keys[i].n,
          keys[i].p, version);
  for (size_t i = 0; i < n && x == XS_OK; i++)
    if (missing[i])
      x = XS_NOTFOUND;
  return x;
}

/* Look the keys up in ch's table and print them. */
static int get_keys(const char *ch, const struct get_opts *o,
                    const struct key *keys, size_t n) {
  struct table_read tr;
  int x = open_table_lazy(ch, !o->no_verify, &tr);
  if (x != XS_OK)
    return x;
  /* Build the output under the guard, print it after releasing it. */
  char *out = NULL;
  size_t outlen = 0;
  FILE *mem = open_memstream(&out, &outlen);
  bool *missing = calloc(n ? n : 1, sizeof *missing);
  if (mem && missing)
    x = lookup(ch, &tr, o, keys, n, mem, missing);
  else
    x = XS_SYSTEM;
  uint64_t version = tr.g.version;
  table_close(&tr);
  if (mem && fclose(mem) != 0)
    x = XS_SYSTEM;
  if (x == XS_SYSTEM)
    msg("out of memory");
  if (x == XS_OK)
    x = print_values(ch, out, outlen, keys, n, missing, version);
  free(out);
  free(missing);
  return x;
}

/* The options into o: -1 to go on, else the exit status. */
static int get_options(int argc, char **argv, struct get_opts *o) {
  enum { O_JSON = 256, O_MISSING, O_NO_VERIFY };
  static const struct option opts[] = {
      {"json", no_argument, NULL, O_JSON},
      {"null", no_argument, NULL, '0'},
      {"missing", required_argument, NULL, O_MISSING},
      {"no-verify", no_argument, NULL, O_NO_VERIFY},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, ":0h", opts, NULL)) != -1) {
    switch (c) {
    case O_JSON:
      o->json = true;
      break;
    case '0':
      o->nul = true;
      break;
    case O_MISSING:
      o->missing = optarg;
      break;
    case O_NO_VERIFY:
      o->no_verify = true;
      break;
    case 'h':
      return print_text(get_help);
    default:
      return bad_option(c, argv);
    }
  }
  if (o->json && o->nul)
    return usage_error("--json and -0 exclude each other");
  if (o->json && o->missing[0])
    return usage_error("--missing is for line and -0 output (JSON: null)");
  if (argc - optind < 2)
    return usage_error("expected CHANNEL and at least one KEY");
  return -1;
}

int cmd_get(int argc, char **argv) {
  struct get_opts o = {false, false, false, false, ""};
  int x = get_options(argc, argv, &o);
  if (x >= 0)
    return x;
  const char *ch = argv[optind];
  size_t n = (size_t)(argc - optind - 1);
  struct key *keys = NULL;
  char **bufs = NULL;
  bool from_stdin = n == 1 && strcmp(argv[optind + 1], "-") == 0;
  if (from_stdin) {
    x = stdin_keys(&keys, &n, &bufs);
  } else if (!(keys = malloc(n * sizeof *keys))) {
    msg("out of memory");
    x = XS_SYSTEM;
  } else {
    for (size_t i = 0; i < n; i++)
      keys[i] =
          (struct key){argv[optind + 1 + i], strlen(argv[optind + 1 + i])};
    x = XS_OK;
  }
  o.placeholder = from_stdin || n > 1;
  if (x == XS_OK)
    x = get_keys(ch, &o, keys, n);
  for (size_t i = 0; bufs && i < n; i++)
    free(bufs[i]);
  free(bufs);
  free(keys);
  return x;
}
