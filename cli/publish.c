/* SPDX-License-Identifier: MIT */
/* smr publish: a TSV or CSV file -> a table built in place in the channel's
 * buffer, in two passes over the mapped file.
 *
 * Pass 1 parses every row and checks it (same number of fields as the
 * first row, quoting, field sizes), counting rows and key + value bytes.
 * Those give smr_table_size_bound, the capacity asked of smr_channel_begin;
 * pass 2 parses again and adds each row straight into the channel buffer.
 * Any error before the commit aborts the build: nothing is published.  A
 * file changed in place between or during the passes is caught by pass 2
 * (rows, bytes or the builder's capacity disagree) or, if it shrank under
 * the mapping, by the SIGBUS handler below.
 *
 * --watch (publish_watch.c) calls publish_once for each new version of the
 * file. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"
#include "publish.h"

/* Inputs at least this large show a progress bar on a terminal. */
#define PROGRESS_MIN_BYTES (8u << 20)
#define PROGRESS_EVERY     65536u /* rows between progress checks */

struct scan {
  uint64_t rows;    /* data rows (header excluded) */
  uint64_t bytes;   /* key + value bytes of the data rows */
  uint64_t max_esc; /* longest key or value that needs unescaping */
  uint64_t nfields; /* fields per row */
  uint64_t first_line;
};

struct progress {
  bool on, tty;
  int last;         /* percent shown */
  int width;        /* of the bar */
  const char *name; /* its last name_len bytes are shown */
  int name_len;
};

/* Fit the bar to the terminal (stderr's width, $COLUMNS, else 80):
 * "smr publish: NAME [####    ] 100%" in one column less than the width;
 * a NAME too long for a bar of 10 is cut to its end. */
static void progress_fit(struct progress *pg) {
  int cols = term_columns(STDERR_FILENO);
  int fixed = (int)strlen(tool_cmd) + 2 + 2 + 6; /* ": ", " [", "] 100%" */
  int avail = cols - 1 - fixed;
  int len = (int)strlen(pg->name);
  pg->name_len = len;
  pg->width = avail - len;
  if (pg->width < 10) {
    pg->width = 10;
    pg->name_len = avail - 10 > 0 ? avail - 10 : 0;
    if (pg->name_len > len)
      pg->name_len = len;
  }
  if (pg->width > 200)
    pg->width = 200;
}

static void progress_show(struct progress *pg, double frac) {
  if (!pg->on)
    return;
  int pct = (int)(frac * 100.0);
  if (pct > 100)
    pct = 100;
  if (pct == pg->last)
    return;
  pg->last = pct;
  char bar[201];
  int fill = pct * pg->width / 100;
  memset(bar, '#', (size_t)fill);
  memset(bar + fill, ' ', (size_t)(pg->width - fill));
  bar[pg->width] = 0;
  size_t len = strlen(pg->name);
  bool cut = (size_t)pg->name_len < len && pg->name_len > 3;
  const char *name = pg->name + len - (size_t)pg->name_len + (cut ? 3 : 0);
  fprintf(stderr, "\r%s: %s%s [%s] %3d%%", tool_cmd, cut ? "..." : "", name,
          bar, pct);
  fflush(stderr);
}

static void progress_end(struct progress *pg) {
  if (!pg->on || pg->last < 0)
    return;
  fputs(pg->tty ? "\r\033[K" : "\n", stderr);
  fflush(stderr);
  pg->last = -1;
}

/* ---- SIGBUS: the input file shrank under the mapping -------------------- */

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig) {
  if (bus_armed) {
    bus_armed = 0;
    siglongjmp(bus_jmp, 1);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

/* ---- the two passes ------------------------------------------------------ */

static int scan_pass(const struct input *in, const struct pub_opts *o,
                     struct scan *sc, struct progress *pg) {
  struct parser ps;
  parser_init(&ps, in, o->fmt, o->crlf, o->key_col, o->val_col);
  memset(sc, 0, sizeof *sc);
  uint64_t nrow = 0, line;
  struct row row;
  char err[256];
  for (;;) {
    int r = parse_row(&ps, &row, &line, err, sizeof err);
    if (r < 0) {
      msg("%s:%" PRIu64 ": %s", in->name, line, err);
      return XS_INPUT;
    }
    if (r == 0)
      break;
    if (nrow++ == 0) {
      sc->nfields = row.nfields;
      sc->first_line = row.line;
      bool key = o->key_col >= row.nfields;
      if (key || o->val_col >= row.nfields) {
        msg("%s:%" PRIu64 ": %" PRIu64 " field%s, but the %s is column %" PRIu64
            " (--%s-col)",
            in->name, row.line, row.nfields, row.nfields == 1 ? "" : "s",
            key ? "key" : "value", (key ? o->key_col : o->val_col) + 1,
            key ? "key" : "value");
        return XS_INPUT;
      }
    } else if (row.nfields != sc->nfields) {
      msg("%s:%" PRIu64 ": %" PRIu64 " field%s, expected %" PRIu64
          " (as on line %" PRIu64 ")",
          in->name, row.line, row.nfields, row.nfields == 1 ? "" : "s",
          sc->nfields, sc->first_line);
      return XS_INPUT;
    }
    if (nrow == 1 && o->header)
      continue;
    sc->rows++;
    sc->bytes += row.key.len + row.value.len;
    if (row.key.esc && row.key.len > sc->max_esc)
      sc->max_esc = row.key.len;
    if (row.value.esc && row.value.len > sc->max_esc)
      sc->max_esc = row.value.len;
    if (sc->rows % PROGRESS_EVERY == 0)
      progress_show(pg, parser_progress(&ps, in) / 2);
  }
  if (sc->rows == 0) {
    msg("%s: no rows%s", in->name,
        o->header && nrow ? " after the header"
        : in->size        ? ""
                          : " (empty file)");
    return XS_INPUT;
  }
  return XS_OK;
}

static int build_pass(const struct input *in, const struct pub_opts *o,
                      const struct scan *sc, smr_table_builder *b,
                      unsigned char *kbuf, unsigned char *vbuf,
                      struct progress *pg) {
  struct parser ps;
  parser_init(&ps, in, o->fmt, o->crlf, o->key_col, o->val_col);
  uint64_t nrow = 0, rows = 0, bytes = 0, line;
  struct row row;
  char err[256];
  for (;;) {
    int r = parse_row(&ps, &row, &line, err, sizeof err);
    if (r < 0) {
      msg("%s:%" PRIu64 ": %s (the file changed while being read)", in->name,
          line, err);
      return XS_INPUT;
    }
    if (r == 0)
      break;
    if (row.nfields != sc->nfields)
      break; /* changed: reported below */
    if (nrow++ == 0 && o->header)
      continue;
    if (++rows > sc->rows)
      break;
    bytes += row.key.len + row.value.len;
    if (bytes > sc->bytes || (row.key.esc && row.key.len > sc->max_esc) ||
        (row.value.esc && row.value.len > sc->max_esc))
      break;
    const void *k = row.key.p, *v = row.value.p;
    if (row.key.esc) {
      field_copy(kbuf, &row.key);
      k = kbuf;
    }
    if (row.value.esc) {
      field_copy(vbuf, &row.value);
      v = vbuf;
    }
    r = smr_table_build_add(b, k, (size_t)row.key.len, v,
                            (size_t)row.value.len);
    if (r < 0) {
      msg("%s:%" PRIu64 ": cannot add the row: %s", in->name, row.line,
          strerror(-r));
      return XS_INPUT;
    }
    if (rows % PROGRESS_EVERY == 0)
      progress_show(pg, 0.5 + parser_progress(&ps, in) / 2);
  }
  if (rows != sc->rows || bytes != sc->bytes || ps.p != ps.end) {
    msg("%s: the file changed while being read", in->name);
    return XS_INPUT;
  }
  progress_show(pg, 1.0);
  return XS_OK;
}

/* Run a pass with SIGBUS turned into an error (the file was truncated
 * while mapped).  Everything the pass writes goes through its pointer
 * arguments, so nothing here needs to survive the jump but the result. */
static int guarded(const struct input *in, int (*fn)(void *), void *arg) {
  if (!in->mapped)
    return fn(arg);
  if (sigsetjmp(bus_jmp, 1)) {
    msg("%s: the file shrank while being read", in->name);
    return XS_INPUT;
  }
  bus_armed = 1;
  int r = fn(arg);
  bus_armed = 0;
  return r;
}

struct pass_args {
  const struct input *in;
  const struct pub_opts *o;
  struct scan *sc;
  smr_table_builder *b;
  unsigned char *kbuf, *vbuf;
  struct progress *pg;
};

static int run_scan(void *a) {
  struct pass_args *p = a;
  return scan_pass(p->in, p->o, p->sc, p->pg);
}

static int run_build(void *a) {
  struct pass_args *p = a;
  return build_pass(p->in, p->o, p->sc, p->b, p->kbuf, p->vbuf, p->pg);
}

/* ---- one publish --------------------------------------------------------- */

/* After the writer opened: the options given that the channel does not
 * have (it existed, and only creation applies them), on stderr. */
static void warn_ignored(const struct pub_opts *o) {
  struct smr_channel_stat st;
  if (smr_channel_stat(o->channel, 0, &st, NULL, 0, NULL) < 0)
    return;
  const char *path = state_path(o->channel);
  const char *why = "it applies only when the channel is created: smr rm "
                    "it first";
  if (o->chan.buffers && o->chan.buffers != st.buffers)
    msg("warning: --buffers %u ignored: channel '%s' (%s) exists with %u "
        "buffers (%s)",
        o->chan.buffers, o->channel, path, st.buffers, why);
  if (o->chan.readers && o->chan.readers != st.readers_max)
    msg("warning: --readers %u ignored: channel '%s' (%s) exists with %u "
        "reader slots (%s)",
        o->chan.readers, o->channel, path, st.readers_max, why);
  struct stat fs;
  if (o->mode_given && stat(path, &fs) == 0 &&
      (fs.st_mode & 07777) != o->chan.mode)
    msg("warning: --mode %04o ignored: channel '%s' (%s) exists with mode "
        "%04o (%s)",
        o->chan.mode, o->channel, path, (unsigned)(fs.st_mode & 07777), why);
  if (o->chan.group_set && stat(path, &fs) == 0 &&
      (unsigned)fs.st_gid != o->chan.gid)
    msg("warning: --group %u ignored: channel '%s' (%s) exists with group "
        "%u (%s)",
        o->chan.gid, o->channel, path, (unsigned)fs.st_gid, why);
}

int open_writer(const struct pub_opts *o, smr_channel_writer **w) {
  int r = smr_channel_writer_open(o->channel, &o->chan, w);
  if (r < 0) {
    msg("channel '%s': cannot open for writing: %s", o->channel,
        chan_strerror(r, true));
    return XS_CHANNEL;
  }
  warn_ignored(o);
  return XS_OK;
}

/* Pass 1, then the table's capacity (*cap) and the buffers that unescaped
 * fields need (pa's kbuf and vbuf). */
static int scan_input(struct pass_args *pa, uint64_t *cap) {
  const struct input *in = pa->in;
  const struct scan *sc = pa->sc;
  int x = guarded(in, run_scan, pa);
  if (x == XS_OK) {
    *cap = smr_table_size_bound(sc->rows, sc->bytes);
    if (*cap == 0 || *cap > SMR_CHANNEL_MAX_PAYLOAD) {
      msg("%s: %" PRIu64 " rows of %" PRIu64 " bytes are too large for a table",
          in->name, sc->rows, sc->bytes);
      x = XS_INPUT;
    }
  }
  if (x == XS_OK && sc->max_esc) {
    pa->kbuf = malloc((size_t)sc->max_esc);
    pa->vbuf = malloc((size_t)sc->max_esc);
    if (!pa->kbuf || !pa->vbuf) {
      msg("out of memory");
      x = XS_SYSTEM;
    }
  }
  return x;
}

/* A channel buffer of cap bytes into *buf (NULL on failure). */
static int begin_buffer(smr_channel_writer *w, const struct pub_opts *o,
                        uint64_t cap, void **buf) {
  int r = smr_channel_begin(w, cap, buf);
  if (r < 0) {
    msg("channel '%s': cannot get a buffer of %" PRIu64 " bytes: %s%s",
        o->channel, cap, strerror(-r),
        r == -EBUSY ? " (every buffer is pinned by live readers)" : "");
    *buf = NULL;
    return XS_CHANNEL;
  }
  return XS_OK;
}

/* Pass 2 of in (pa->in) into buf (cap bytes), then the checks that the file did
 * not change (wt: --watch's events, else NULL) and that the table opens as
 * readers will open it: *size and *t. */
static int build_table(struct input *in, struct pass_args *pa, void *buf,
                       uint64_t cap, struct watch *wt, uint64_t *size,
                       smr_table *t) {
  char err[256];
  int x = XS_OK;
  int r = smr_table_build_begin(pa->b, buf, cap, pa->sc->rows);
  if (r < 0) {
    msg("%s: cannot start the table: %s", in->name, strerror(-r));
    x = XS_INPUT;
  }
  if (x == XS_OK)
    x = guarded(in, run_build, pa);
  /* The file read, still under the lease if any: was it being changed? */
  if (x == XS_OK && wt) {
    watch_drain(wt);
    if (wt->changed) {
      msg("%s: the file changed while being read", in->name);
      x = XS_INPUT;
    }
  }
  if (x == XS_OK && input_settle(in, err, sizeof err) < 0) {
    msg("%s: %s", in->name, err);
    x = XS_INPUT;
  }
  if (x == XS_OK) {
    r = smr_table_build_end(pa->b, size);
    /* Check what readers will check; also gives the key count. */
    if (r == 0)
      r = smr_table_open(t, buf, *size);
    if (r < 0) {
      msg("%s: the table did not build: %s", in->name, strerror(-r));
      x = XS_SYSTEM;
    }
  }
  return x;
}

/* Commit the built table (size bytes); aborts the build if that fails. */
static int commit_table(smr_channel_writer *w, const struct pub_opts *o,
                        uint64_t size, struct smr_channel_commit_info *info) {
  int r = smr_channel_commit(w, size, info);
  if (r < 0) {
    msg("channel '%s': cannot publish: %s", o->channel, chan_strerror(r, true));
    smr_channel_abort(w);
    return XS_CHANNEL;
  }
  return XS_OK;
}

/* Build the file's table in the channel and publish it.  *w is opened
 * here (after the input checked out) when NULL.  wt (--watch, else NULL):
 * refuse a file open for writing, or one an event reports changed while it
 * was read. */
int publish_once(smr_channel_writer **w, const struct pub_opts *o,
                 struct watch *wt) {
  struct input in;
  char err[256];
  int lr = input_load(&in, o->path, wt ? INPUT_NO_WRITERS : 0, err, sizeof err);
  if (lr < 0) {
    msg("%s: %s%s", in.name, err,
        lr == -EBUSY ? ": not published until it is closed" : "");
    return XS_INPUT;
  }
  if (wt)
    wt->changed = false;
  struct progress pg = {false, isatty(STDERR_FILENO) != 0, -1, 0, in.name, 0};
  pg.on = o->progress > 0 ||
          (o->progress < 0 && pg.tty && in.size >= PROGRESS_MIN_BYTES);
  if (pg.on)
    progress_fit(&pg);
  struct scan sc;
  smr_table_builder b;
  struct pass_args pa = {&in, o, &sc, &b, NULL, NULL, &pg};
  uint64_t cap = 0;
  int x = scan_input(&pa, &cap);
  if (x == XS_OK && !*w)
    x = open_writer(o, w);
  void *buf = NULL;
  if (x == XS_OK)
    x = begin_buffer(*w, o, cap, &buf);
  uint64_t size = 0;
  smr_table t;
  if (x == XS_OK)
    x = build_table(&in, &pa, buf, cap, wt, &size, &t);
  progress_end(&pg);
  struct smr_channel_commit_info info;
  if (x == XS_OK)
    x = commit_table(*w, o, size, &info);
  else if (buf)
    smr_channel_abort(*w);
  if (x == XS_OK && !o->quiet) {
    printf("version=%" PRIu64 " rows=%" PRIu64 " keys=%" PRIu64
           " bytes=%" PRIu64 "\n",
           info.version, sc.rows, smr_table_count(&t), size);
    x = flush_stdout();
  }
  free(pa.kbuf);
  free(pa.vbuf);
  input_free(&in);
  return x;
}

/* ---- command line -------------------------------------------------------- */

static const char publish_help[] =
    "Usage: smr publish [OPTIONS] CHANNEL FILE\n"
    "Publish a table built from FILE (TSV or CSV; - reads standard input) on\n"
    "CHANNEL: the first column is the key, the second the value.  A bad\n"
    "file publishes nothing.\n"
    "\n"
    "Input:\n"
    "  --tsv             tab-separated values (the default): rows end with\n"
    "                    \\n, fields cannot hold tabs or newlines\n"
    "  --csv             comma-separated values, RFC 4180 quoting (\"...\",\n"
    "                    \"\" for a quote; fields may hold , \\r \\n)\n"
    "  --crlf            TSV: strip one \\r before each \\n (else an error)\n"
    "  --header          skip the first row\n"
    "  --key-col N       the key is column N (default 1)\n"
    "  --value-col N     the value is column N (default 2)\n"
    "Every row must have as many fields as the first.  An empty file, or\n"
    "one with no row after the header, is an error.  A key given twice: the\n"
    "last row wins.\n"
    "\n"
    "Channel (used when the channel is created; a warning says when an\n"
    "existing channel has other settings):\n"
    "  --buffers K       payload buffers, 2..32 (default 3)\n"
    "  --readers N       reader slots, 1..4096 (default 64)\n"
    "  --mode MODE       octal permissions of the channel's files (default\n"
    "                    0600: only its user reads it); 0640 lets the files'\n"
    "                    group read and join as readers, 0644 everyone.  The\n"
    "                    umask does not apply.  The group is the directory's\n"
    "                    (a setgid directory) or the user's; see smr(1)\n"
    "  --group GROUP     the group of the channel's files (a name or a\n"
    "                    number the user belongs to), for --mode 0640\n"
    "/dev/shm holds K buffers of the table's size per channel (a Docker\n"
    "container's /dev/shm has 64 MB by default): see smr(1).\n"
    "\n"
    "Other:\n"
    "  --watch           publish again whenever FILE is written (closed after\n"
    "                    writing) or renamed into place; runs until SIGINT or\n"
    "                    SIGTERM (then exit 0).  Bad input is reported and\n"
    "                    skipped; the last good version stays.  A file still\n"
    "                    being written is skipped with a note (modified\n"
    "                    since it was closed, open for writing elsewhere, or\n"
    "                    changed while read); its next close publishes it.\n"
    "                    Safest: write FILE.tmp beside FILE, then rename it\n"
    "                    to FILE (mv): a rename is never half-done.\n"
    "  --progress        show a progress bar on stderr (default: only on a\n"
    "                    terminal, for inputs of 8 MiB or more)\n"
    "  --no-progress     never show it\n"
    "  -q, --quiet       do not print the published version\n"
    "  -h, --help        this help\n"
    "\n"
    "Prints \"version=V rows=R keys=K bytes=B\" per publish (keys: distinct\n"
    "keys; bytes: the table's size).\n"
    "Exit status: 0 published; 2 usage; 3 input file (cannot read, bad row:\n"
    "FILE:LINE says where); 4 channel (another writer, no space, ...: the\n"
    "message names the file);\n"
    "6 system (memory, signals, inotify, writing the output).\n";

enum {
  O_TSV = 256,
  O_CSV,
  O_CRLF,
  O_HEADER,
  O_KEYCOL,
  O_VALCOL,
  O_BUFFERS,
  O_READERS,
  O_WATCH,
  O_PROGRESS,
  O_NOPROGRESS,
  O_MODE,
  O_GROUP
};

/* The default mode: the owner alone reads the channel (see --mode). */
#define DEFAULT_MODE 0600u

/* --mode's octal MODE into o: the owner reads and writes, the group and
 * others at most read; readers may join (the readers directory's write
 * bits) exactly where they may read.  Exact: the umask does not apply. */
static int parse_mode(const char *s, struct pub_opts *o) {
  unsigned long v = 0;
  size_t n = strspn(s, "01234567");
  if (n == 0 || n > 4 || s[n] != '\0' || (v = strtoul(s, NULL, 8)) > 0777)
    return usage_error("--mode: expected an octal mode such as 0640, got "
                       "'%s'",
                       s);
  if ((v & 0600) != 0600 || (v & 0177) & ~044u)
    return usage_error("--mode %04lo: the owner must read and write (6), the "
                       "group and others may only read (4 or 0)",
                       v);
  o->chan.mode = (unsigned)v;
  o->chan.reader_mode = (unsigned)(v | (v & 044) >> 1);
  o->mode_given = true;
  return -1;
}

/* --group's NAME or number into o: the channel's files get that group. */
static int parse_group(const char *s, struct pub_opts *o) {
  uint64_t v;
  struct group *g = getgrnam(s);
  if (g)
    o->chan.gid = (unsigned)g->gr_gid;
  else if (parse_uint(s, 0, UINT32_MAX - 1, &v))
    o->chan.gid = (unsigned)v;
  else
    return usage_error("--group: no group '%s'", s);
  o->chan.group_set = true;
  return -1;
}

/* One option c (getopt_long's, with optarg) into o: -1 to go on, else the
 * exit status (--help, a usage error). */
static int publish_option(int c, char **argv, struct pub_opts *o) {
  uint64_t v;
  switch (c) {
  case O_TSV:
    o->fmt = FMT_TSV;
    break;
  case O_CSV:
    o->fmt = FMT_CSV;
    break;
  case O_CRLF:
    o->crlf = true;
    break;
  case O_HEADER:
    o->header = true;
    break;
  case O_KEYCOL:
  case O_VALCOL:
    if (!parse_uint(optarg, 1, UINT32_MAX, &v))
      return usage_error("--%s: not a column number: '%s'",
                         c == O_KEYCOL ? "key-col" : "value-col", optarg);
    *(c == O_KEYCOL ? &o->key_col : &o->val_col) = v - 1;
    break;
  case O_BUFFERS:
    if (!parse_uint(optarg, 2, SMR_CHANNEL_MAX_BUFFERS, &v))
      return usage_error("--buffers: expected 2..%u, got '%s'",
                         SMR_CHANNEL_MAX_BUFFERS, optarg);
    o->chan.buffers = (unsigned)v;
    break;
  case O_READERS:
    if (!parse_uint(optarg, 1, SMR_CHANNEL_MAX_READERS, &v))
      return usage_error("--readers: expected 1..%u, got '%s'",
                         SMR_CHANNEL_MAX_READERS, optarg);
    o->chan.readers = (unsigned)v;
    break;
  case O_MODE:
    return parse_mode(optarg, o);
  case O_GROUP:
    return parse_group(optarg, o);
  case O_WATCH:
    o->watch = true;
    break;
  case O_PROGRESS:
    o->progress = 1;
    break;
  case O_NOPROGRESS:
    o->progress = 0;
    break;
  case 'q':
    o->quiet = true;
    break;
  case 'h':
    return print_text(publish_help);
  default:
    return bad_option(c, argv);
  }
  return -1;
}

int cmd_publish(int argc, char **argv) {
  static const struct option opts[] = {
      {"tsv", no_argument, NULL, O_TSV},
      {"csv", no_argument, NULL, O_CSV},
      {"crlf", no_argument, NULL, O_CRLF},
      {"header", no_argument, NULL, O_HEADER},
      {"key-col", required_argument, NULL, O_KEYCOL},
      {"value-col", required_argument, NULL, O_VALCOL},
      {"buffers", required_argument, NULL, O_BUFFERS},
      {"readers", required_argument, NULL, O_READERS},
      {"mode", required_argument, NULL, O_MODE},
      {"group", required_argument, NULL, O_GROUP},
      {"watch", no_argument, NULL, O_WATCH},
      {"progress", no_argument, NULL, O_PROGRESS},
      {"no-progress", no_argument, NULL, O_NOPROGRESS},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  struct pub_opts o;
  memset(&o, 0, sizeof o);
  o.fmt = FMT_TSV;
  o.progress = -1;
  o.key_col = 0;
  o.val_col = 1;
  o.chan.mode = DEFAULT_MODE;
  o.chan.reader_mode = DEFAULT_MODE;
  o.chan.flags = SMR_CHANNEL_NO_UMASK;
  int c;
  while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
    int x = publish_option(c, argv, &o);
    if (x >= 0)
      return x;
  }
  if (argc - optind != 2)
    return usage_error("expected CHANNEL and FILE");
  o.channel = argv[optind];
  o.path = argv[optind + 1];
  if (o.key_col == o.val_col)
    return usage_error("the key and the value are the same column");
  if (o.crlf && o.fmt == FMT_CSV)
    return usage_error("--crlf is for TSV (CSV accepts \\r\\n already)");
  if (o.watch && strcmp(o.path, "-") == 0)
    return usage_error("--watch needs a file, not standard input");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigbus;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, NULL);
  if (o.watch)
    return watch_file(&o);
  smr_channel_writer *w = NULL;
  int x = publish_once(&w, &o, NULL);
  smr_channel_writer_close(w);
  return x;
}
