/* SPDX-License-Identifier: MIT */
/* Input files for smr publish (input.h has the formats). */
#define _GNU_SOURCE
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smr/table.h"

/* Read everything from fd (a pipe, a terminal, a character device). */
static int read_all(struct input *in, int fd, char *errmsg, size_t n) {
  size_t cap = 1 << 16, len = 0;
  unsigned char *buf = malloc(cap);
  if (!buf) {
    snprintf(errmsg, n, "out of memory");
    return -ENOMEM;
  }
  for (;;) {
    if (len == cap) {
      unsigned char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        snprintf(errmsg, n, "out of memory");
        return -ENOMEM;
      }
      buf = nb;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      free(buf);
      snprintf(errmsg, n, "cannot read: %s", strerror(e));
      return -e;
    }
    if (r == 0)
      break;
    len += (size_t)r;
  }
  in->data = buf;
  in->size = len;
  in->mapped = false;
  return 0;
}

static void input_id_of(const struct stat *sb, struct input_id *id) {
  id->dev = (uint64_t)sb->st_dev;
  id->ino = (uint64_t)sb->st_ino;
  id->size = (uint64_t)sb->st_size;
  id->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

/* A read lease on fd (see INPUT_NO_WRITERS): 1 held, 0 not available,
 * -EBUSY the file is open for writing. */
static int take_lease(int fd) {
  if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0)
    return 1;
  return errno == EAGAIN ? -EBUSY : 0;
}

int input_load(struct input *in, const char *path, unsigned flags, char *errmsg,
               size_t n) {
  memset(in, 0, sizeof *in);
  in->path = path;
  in->fd = -1;
  bool std_in = strcmp(path, "-") == 0;
  in->name = std_in ? "<stdin>" : path;
  int fd = std_in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    snprintf(errmsg, n, "cannot open: %s", strerror(e));
    return -e;
  }
  struct stat sb;
  int r = 0;
  if (fstat(fd, &sb) != 0) {
    r = -errno;
    snprintf(errmsg, n, "cannot stat: %s", strerror(-r));
  } else if (S_ISDIR(sb.st_mode)) {
    r = -EISDIR;
    snprintf(errmsg, n, "is a directory");
  } else if (S_ISREG(sb.st_mode)) {
    if (!std_in && (flags & INPUT_NO_WRITERS)) {
      r = take_lease(fd);
      /* Stat again under the lease: what is loaded cannot change now. */
      if (r == 1 && fstat(fd, &sb) != 0)
        r = -errno;
      if (r < 0)
        snprintf(errmsg, n, "%s",
                 r == -EBUSY ? "open for writing by another process"
                             : strerror(-r));
      else
        r = 0;
    }
    input_id_of(&sb, &in->id);
    in->size = in->id.size;
    if (r == 0 && in->size > 0) {
      /* Private and read-only: pages come from the page cache.  POPULATE
       * reads the file ahead in one go for the two passes. */
      void *p = mmap(NULL, (size_t)in->size, PROT_READ,
                     MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (p == MAP_FAILED) {
        r = -errno;
        snprintf(errmsg, n, "cannot map: %s", strerror(-r));
      } else {
        in->data = p;
        in->mapped = true;
      }
    }
    if (r == 0 && !std_in) {
      in->fd = fd; /* for input_settle */
      return 0;
    }
  } else {
    r = read_all(in, fd, errmsg, n);
  }
  if (!std_in)
    close(fd);
  return r;
}

int input_settle(struct input *in, char *errmsg, size_t n) {
  if (in->fd < 0)
    return 0;
  struct stat sb, nb;
  struct input_id now;
  bool same = fstat(in->fd, &sb) == 0 && stat(in->path, &nb) == 0;
  if (same) {
    input_id_of(&sb, &now);
    same = memcmp(&now, &in->id, sizeof now) == 0 &&
           (uint64_t)nb.st_dev == now.dev && (uint64_t)nb.st_ino == now.ino;
  }
  close(in->fd);
  in->fd = -1;
  if (same)
    return 0;
  snprintf(errmsg, n, "the file changed while being read");
  return -ESTALE;
}

void input_free(struct input *in) {
  if (in->fd >= 0)
    close(in->fd);
  in->fd = -1;
  if (in->mapped)
    munmap((void *)in->data, (size_t)in->size);
  else
    free((void *)in->data);
  in->data = NULL;
  in->size = 0;
  in->mapped = false;
}

void parser_init(struct parser *ps, const struct input *in,
                 enum input_format fmt, bool crlf, uint64_t key_col,
                 uint64_t val_col) {
  ps->p = in->data;
  ps->end = in->data ? in->data + in->size : NULL;
  ps->fmt = fmt;
  ps->crlf = crlf;
  ps->key_col = key_col;
  ps->val_col = val_col;
  ps->line = 1;
}

double parser_progress(const struct parser *ps, const struct input *in) {
  return in->size ? (double)(ps->p - in->data) / (double)in->size : 1.0;
}

/* Keep field number i if it is the key or the value column. */
static int take(struct parser *ps, struct row *row, uint64_t i,
                const struct field *f, char *errmsg, size_t n) {
  if (i != ps->key_col && i != ps->val_col)
    return 0;
  if (f->len > SMR_TABLE_MAX_FIELD) {
    snprintf(errmsg, n,
             "field %" PRIu64 " is %" PRIu64 " bytes, above the limit of %llu",
             i + 1, f->len, SMR_TABLE_MAX_FIELD);
    return -1;
  }
  if (i == ps->key_col)
    row->key = *f;
  if (i == ps->val_col)
    row->value = *f;
  return 0;
}

static int parse_tsv(struct parser *ps, struct row *row, uint64_t *line,
                     char *errmsg, size_t n) {
  const unsigned char *p = ps->p, *end = ps->end;
  const unsigned char *e = memchr(p, '\n', (size_t)(end - p));
  const unsigned char *next = e ? e + 1 : end;
  if (!e)
    e = end;
  *line = row->line;
  if (e > p && e[-1] == '\r') {
    if (!ps->crlf) {
      snprintf(errmsg, n,
               "line ends with a carriage return (CRLF line endings?): "
               "use --crlf to strip it, or --csv");
      return -1;
    }
    e--;
  }
  uint64_t i = 0;
  for (const unsigned char *f = p;; i++) {
    const unsigned char *t = memchr(f, '\t', (size_t)(e - f));
    struct field fl = {f, (uint64_t)((t ? t : e) - f), false};
    if (take(ps, row, i, &fl, errmsg, n) < 0)
      return -1;
    if (!t)
      break;
    f = t + 1;
  }
  row->nfields = i + 1;
  ps->p = next;
  ps->line++;
  return 1;
}

/* Newlines in [p, e), for the line count of quoted CSV fields. */
static uint64_t count_nl(const unsigned char *p, const unsigned char *e) {
  uint64_t c = 0;
  while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
    c++;
    p++;
  }
  return c;
}

static int parse_csv(struct parser *ps, struct row *row, uint64_t *line,
                     char *errmsg, size_t n) {
  const unsigned char *p = ps->p, *end = ps->end;
  for (uint64_t i = 0;; i++) {
    struct field f;
    if (p < end && *p == '"') {
      uint64_t open_line = ps->line;
      const unsigned char *s = ++p;
      uint64_t len = 0;
      bool esc = false;
      for (;;) {
        const unsigned char *q = memchr(p, '"', (size_t)(end - p));
        if (!q) {
          ps->line += count_nl(p, end);
          *line = open_line;
          snprintf(errmsg, n,
                   "unterminated quoted field (its quote opens on this line)");
          return -1;
        }
        ps->line += count_nl(p, q);
        len += (uint64_t)(q - p);
        p = q + 1;
        if (p < end && *p == '"') { /* "" stands for one quote */
          esc = true;
          len++;
          p++;
          continue;
        }
        break;
      }
      f = (struct field){s, len, esc};
      if (p < end && *p != ',' && *p != '\n' &&
          !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
        *line = ps->line;
        snprintf(errmsg, n,
                 "text after a closing quote (a quote inside a quoted field "
                 "must be doubled)");
        return -1;
      }
    } else {
      const unsigned char *s = p;
      while (p < end && *p != ',' && *p != '\n' && *p != '\r' && *p != '"')
        p++;
      if (p < end && *p == '"') {
        *line = ps->line;
        snprintf(errmsg, n,
                 "quote inside an unquoted field (quote the whole field and "
                 "double the quote)");
        return -1;
      }
      if (p < end && *p == '\r' && !(p + 1 < end && p[1] == '\n')) {
        *line = ps->line;
        snprintf(errmsg, n,
                 "carriage return inside an unquoted field (quote the field)");
        return -1;
      }
      f = (struct field){s, (uint64_t)(p - s), false};
    }
    *line = row->line;
    if (take(ps, row, i, &f, errmsg, n) < 0)
      return -1;
    if (p < end && *p == ',') {
      p++;
      continue;
    }
    row->nfields = i + 1;
    if (p < end) { /* \n or \r\n */
      p += *p == '\r' ? 2 : 1;
      ps->line++;
    }
    ps->p = p;
    return 1;
  }
}

int parse_row(struct parser *ps, struct row *row, uint64_t *line, char *errmsg,
              size_t n) {
  if (ps->p == ps->end)
    return 0;
  memset(row, 0, sizeof *row);
  row->line = ps->line;
  return ps->fmt == FMT_TSV ? parse_tsv(ps, row, line, errmsg, n)
                            : parse_csv(ps, row, line, errmsg, n);
}

void field_copy(unsigned char *dst, const struct field *f) {
  if (!f->esc) {
    if (f->len)
      memcpy(dst, f->p, (size_t)f->len);
    return;
  }
  const unsigned char *s = f->p;
  for (uint64_t i = 0; i < f->len; i++) {
    dst[i] = *s;
    s += *s == '"' ? 2 : 1;
  }
}
