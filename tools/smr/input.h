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

struct input {
  const char *path; /* as given ("-": standard input) */
  const char *name; /* for messages */
  const unsigned char *data;
  uint64_t size;
  bool mapped; /* munmap, else free */
};

/* Load path: mmap a regular file, read a pipe or "-" into memory.
 * 0, or -errno with errmsg set (the cause, without the file name). */
int input_load(struct input *in, const char *path, char *errmsg, size_t n);
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
