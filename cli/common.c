/* SPDX-License-Identifier: MIT */
/* The smr command's shared helpers: messages, usage errors, a command's
 * single flag, writing the output, parsing numbers, what a channel error
 * means, the clock, JSON strings (stat, ls, get), a channel's state file
 * path and the terminal's width. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

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

int flag_option(int argc, char **argv, const char *name, char short_name,
                const char *help, bool *set) {
  const struct option opts[] = {{name, no_argument, NULL, 256},
                                {"help", no_argument, NULL, 'h'},
                                {NULL, 0, NULL, 0}};
  char shortopts[4] = ":h";
  if (short_name) {
    shortopts[1] = short_name;
    shortopts[2] = 'h';
  }
  int c;
  *set = false;
  while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
    if (c == 'h')
      return print_text(help);
    if (c != 256 && !(short_name && c == short_name))
      return bad_option(c, argv);
    *set = true;
  }
  return -1;
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

bool json_str(FILE *f, const void *s, size_t n) {
  const unsigned char *p = s;
  bool exact = true;
  fputc('"', f);
  while (n) {
    size_t k = utf8_len(p, n);
    if (k == 0 || *p < 0x20) {
      exact = exact && k != 0;
      fprintf(f, "\\u%04x", *p);
      k = 1;
    } else if (*p == '"' || *p == '\\') {
      fprintf(f, "\\%c", *p);
    } else {
      fwrite(p, 1, k, f);
    }
    p += k;
    n -= k;
  }
  fputc('"', f);
  return exact;
}

void json_channel(FILE *f, const char *ch, const char *sep) {
  fputs("\"channel\": ", f);
  if (json_str(f, ch, strlen(ch)))
    return;
  /* Not UTF-8: the exact bytes too. */
  fprintf(f, "%s\"channel_hex\": \"", sep);
  for (const unsigned char *p = (const unsigned char *)ch; *p; p++)
    fprintf(f, "%02x", *p);
  fputc('"', f);
}

const char *state_path(const char *ch) {
  static char buf[4200];
  snprintf(buf, sizeof buf, "%s%s.smr", strchr(ch, '/') ? "" : "/dev/shm/", ch);
  return buf;
}

int term_columns(int fd) {
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  uint64_t v;
  if (parse_uint(getenv("COLUMNS"), 1, 10000, &v))
    return (int)v;
  return 80;
}
