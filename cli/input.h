/* SPDX-License-Identifier: MIT */
/* Input files for smr publish: loading (mmap, or read for pipes) and the TSV
 * and CSV row parser.
 *
 * TSV: rows end with \n (the last one may lack it); fields are separated by
 * \t and carry any other byte; no quoting, so a field cannot hold a tab or a
 * newline.  A \r before the \n is an error unless crlf is set, when one is
 * stripped.
 * CSV (RFC 4180): fields separated by ',', rows ending with \n or \r\n; a
 * field starting with '"' is quoted: it ends at the next lone '"', "" stands
 * for one '"', and it may hold commas, \r and \n.  An unquoted field may not
 * hold '"' or a \r that does not start a \r\n.
 * Both: every row has the same number of fields as the first one. */
#ifndef SMR_TOOL_INPUT_H
#define SMR_TOOL_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum input_format { FMT_TSV, FMT_CSV };

/* What identifies a regular file's contents for input_settle: the name
 * still leads to the same file, of the same size and modification time. */
struct input_id {
  uint64_t dev, ino, size;
  int64_t mtime_ns;
};

struct input {
  const char *path; /* as given ("-": standard input) */
  const char *name; /* for messages */
  const unsigned char *data;
  uint64_t size;
  bool mapped; /* munmap, else free */
  int fd;      /* a regular file, open until input_settle (else -1); it holds
                  the read lease of INPUT_NO_WRITERS, if one was taken */
  struct input_id id; /* fd's, when loaded */
};

/* input_load flag: take a read lease on a regular file (fcntl F_SETLEASE,
 * F_RDLCK), which the kernel grants only while no process has the file
 * open for writing, and which makes a process that opens it for writing
 * (or truncates it) wait until input_settle releases it.  A file open for
 * writing fails with -EBUSY; where leases are not available (another
 * owner without CAP_LEASE, a file system without leases) the file is
 * loaded without one. */
#define INPUT_NO_WRITERS 0x1u

/* Load path: mmap a regular file, read a pipe or "-" into memory.
 * 0, or -errno with errmsg set (the cause, without the file name). */
int input_load(struct input *in, const char *path, unsigned flags, char *errmsg,
               size_t n);

/* After the last read of in->data: 0 if the file is what it was when
 * loaded (struct input_id, from its descriptor and from its name), else
 * -ESTALE with errmsg set.  Closes the file, ending a lease.  0 for
 * standard input and pipes. */
int input_settle(struct input *in, char *errmsg, size_t n);

/* Unmap or free, and close the file if input_settle did not. */
void input_free(struct input *in);

/* One field of a row: len bytes of content.  esc: quoted with "" escapes,
 * so the content is the raw bytes at p with each "" read as one '"'. */
struct field {
  const unsigned char *p;
  uint64_t len;
  bool esc;
};

struct row {
  uint64_t line;    /* line the row starts on (1-based) */
  uint64_t nfields; /* fields in the row */
  struct field key, value;
};

struct parser {
  const unsigned char *p, *end;
  enum input_format fmt;
  bool crlf;                 /* TSV: strip one \r before each \n */
  uint64_t key_col, val_col; /* 0-based */
  uint64_t line;             /* line of the next row */
};

void parser_init(struct parser *ps, const struct input *in,
                 enum input_format fmt, bool crlf, uint64_t key_col,
                 uint64_t val_col);

/* The next row: 1 (row filled), 0 (end of input), -1 (error: *line and
 * errmsg say where and why).  The key and value are filled only if the row
 * has those columns; fields above SMR_TABLE_MAX_FIELD are errors. */
int parse_row(struct parser *ps, struct row *row, uint64_t *line, char *errmsg,
              size_t n);

/* Copy a field's content to dst (f->len bytes). */
void field_copy(unsigned char *dst, const struct field *f);

/* Input position as a fraction of the whole, for progress. */
double parser_progress(const struct parser *ps, const struct input *in);

#endif
