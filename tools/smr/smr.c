/* smr: publish, read and inspect libsmr channels that carry tables
 * (smr/channel.h, smr/table.h) from the command line.  docs/smr.1 is the
 * manual; smr.h lists the pieces. */
#define _GNU_SOURCE
#include "smr.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smr/version.h"

#ifndef SMR_TOOL_VERSION
#define SMR_TOOL_VERSION "unknown"
#endif

const char *tool_cmd = "smr";

void msg(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", tool_cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", tool_cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry '%s --help'.\n", tool_cmd);
  va_end(ap);
  return XS_USAGE;
}

int write_error(void) {
  /* errno of the failed write, unless only the stream's error flag told */
  msg("cannot write the output: %s", strerror(errno ? errno : EIO));
  return XS_SYSTEM;
}

int flush_stdout(void) {
  if (fflush(stdout) != 0 || ferror(stdout))
    return write_error();
  return XS_OK;
}

int print_text(const char *text) {
  fputs(text, stdout);
  return flush_stdout();
}

int bad_option(int c, char **argv) {
  if (c == ':')
    return usage_error("option '%s' needs an argument", argv[optind - 1]);
  return usage_error("unknown option '%s'", argv[optind - 1]);
}

bool parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (!s || *s < '0' || *s > '9')
    return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v < min || v > max)
    return false;
  *out = v;
  return true;
}

bool parse_seconds(const char *s, int64_t *ns) {
  if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
    return false;
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v) || v < 0 || v > 1e9)
    return false;
  *ns = (int64_t)(v * 1e9);
  return true;
}

const char *chan_strerror(int err, bool writer) {
  static char buf[640];
  const char *hint = NULL;
  switch (-err) {
  case ENOENT:
    hint = "no such channel";
    break;
  case EAGAIN:
    hint = "the channel is still being created";
    break;
  case ENODATA:
    hint = "nothing published yet";
    break;
  case EBUSY:
    hint =
        writer ? "another writer holds the channel" : "a guard is already held";
    break;
  case EBADMSG:
    hint = "corrupt, truncated or foreign channel files, or a checksum "
           "mismatch";
    break;
  case EUSERS:
    hint = "every reader slot is taken";
    break;
  case ESTALE:
    hint = "the channel was removed and created anew";
    break;
  case EFBIG:
    hint = "payload above the channel's or the file size limit";
    break;
  case EPERM:
    hint = "a file of the channel belongs to another user";
    break;
  case EEXIST:
    hint = "a channel name is taken by something that is not its file";
    break;
  default:
    break;
  }
  int n;
  if (hint)
    n = snprintf(buf, sizeof buf, "%s (%s)", strerror(-err), hint);
  else
    n = snprintf(buf, sizeof buf, "%s", strerror(-err));
  /* The file at fault, when the library names one (smr_channel_error_path is
   * this thread's, and every caller asks right after the failing call). */
  const char *path = smr_channel_error_path();
  if (path[0] != '\0' && n >= 0 && (size_t)n < sizeof buf)
    snprintf(buf + n, sizeof buf - (size_t)n, ": %s", path);
  return buf;
}

int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int table_of(struct table_cache *c, const smr_channel_guard *g,
             const smr_table **t) {
  if (c->version != g->version || c->data != g->data) {
    c->version = g->version;
    c->data = g->data;
    /* A payload under 64 bytes is no table (and a 0-byte payload's view
     * need not be 8-byte aligned, which smr_table_open would call -EINVAL). */
    c->error =
        g->size < 64 ? -EBADMSG : smr_table_open(&c->t, g->data, g->size);
  }
  *t = &c->t;
  return c->error;
}

/* ---- main ---------------------------------------------------------------- */

static const char main_help[] =
    "Usage: smr COMMAND [OPTIONS] ARGS...\n"
    "Publish key -> value tables through libsmr channels and read them from\n"
    "other processes.\n"
    "\n"
    "Commands:\n"
    "  publish CHANNEL FILE   build a table from a TSV or CSV file and "
    "publish\n"
    "                         it (--watch: again whenever the file changes)\n"
    "  get CHANNEL KEY...     print each key's value, one per line\n"
    "  dump CHANNEL           print the table as TSV (or --csv)\n"
    "  stat CHANNEL           version, buffers, readers, writer (--json)\n"
    "  watch CHANNEL          print a line per new version\n"
    "  bench CHANNEL          look up random keys from N processes\n"
    "  help [COMMAND]         this help, or a command's (smr COMMAND --help)\n"
    "\n"
    "A CHANNEL without '/' lives in /dev/shm; otherwise it is a path prefix\n"
    "(CHANNEL.smr, CHANNEL.smr-data-*, ...).\n"
    "\n"
    "Options:\n"
    "  -h, --help       this help\n"
    "  -V, --version    the versions of smr and of libsmr\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  not found: a key is missing (get), nothing is published yet, or\n"
    "     watch --timeout expired\n"
    "  2  usage error\n"
    "  3  input file error (publish: cannot read it, or a bad row)\n"
    "  4  channel error (cannot open, read or publish, or a payload whose\n"
    "     checksum does not match; the message gives the system error)\n"
    "  5  the payload is not a table (or dump cannot print it as TSV)\n"
    "  6  system error (memory, fork, signals, inotify, writing the output)\n"
    "\n"
    "See smr(1).\n";

struct command {
  const char *name;
  int (*fn)(int, char **);
};

static const struct command commands[] = {
    {"publish", cmd_publish}, {"get", cmd_get},     {"dump", cmd_dump},
    {"stat", cmd_stat},       {"watch", cmd_watch}, {"bench", cmd_bench},
};

static const struct command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static char cmd_buf[64];

static int run(const struct command *c, int argc, char **argv) {
  snprintf(cmd_buf, sizeof cmd_buf, "smr %s", c->name);
  tool_cmd = cmd_buf;
  optind = 0; /* GNU: start a fresh scan */
  opterr = 0;
  return c->fn(argc, argv);
}

int main(int argc, char **argv) {
  if (argc < 2)
    return usage_error("no command given");
  const char *a = argv[1];
  if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
    return print_text(main_help);
  if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
    printf("smr %s (libsmr %s)\n", SMR_TOOL_VERSION, smr_version_string());
    return flush_stdout();
  }
  if (strcmp(a, "help") == 0) {
    if (argc < 3)
      return print_text(main_help);
    const struct command *c = find_command(argv[2]);
    if (!c)
      return usage_error("no command '%s'", argv[2]);
    static char help_opt[] = "--help";
    char *hargv[] = {argv[2], help_opt, NULL};
    return run(c, 2, hargv);
  }
  if (a[0] == '-')
    return usage_error("unknown option '%s' (a command comes first)", a);
  const struct command *c = find_command(a);
  if (!c)
    return usage_error("no command '%s'", a);
  return run(c, argc - 1, argv + 1);
}

/* Readers verify: a payload whose checksum does not match is refused
 * (-EBADMSG) rather than printed.  bench's lookup processes opt out. */
int open_reader(const char *ch, smr_channel_reader **r) {
  int e = smr_channel_reader_open(ch, SMR_CHANNEL_VERIFY, r);
  if (e < 0) {
    msg("channel '%s': cannot open: %s", ch, chan_strerror(e, false));
    return XS_CHANNEL;
  }
  return XS_OK;
}

int read_error(const char *ch, smr_channel_reader *r, int e) {
  if (e == -EBADMSG)
    msg("channel '%s': version %" PRIu64 " failed verification: its "
        "checksum does not match (corrupt data), or the channel's files are "
        "corrupt; nothing printed from it",
        ch, smr_channel_version(r));
  else
    msg("channel '%s': cannot read: %s", ch, chan_strerror(e, false));
  return XS_CHANNEL;
}

int open_and_read(const char *ch, smr_channel_reader **r,
                  smr_channel_guard *g) {
  int x = open_reader(ch, r);
  if (x != XS_OK)
    return x;
  int e = smr_channel_read(*r, g);
  if (e < 0) {
    if (e == -ENODATA) {
      msg("channel '%s': nothing published yet", ch);
      x = XS_NOTFOUND;
    } else {
      x = read_error(ch, *r, e);
    }
    smr_channel_reader_close(*r);
    *r = NULL;
  }
  return x;
}
