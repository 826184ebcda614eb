/* The smr command: shared declarations (exit codes, messages, options).
 *
 * Subcommands live in publish.c (publish, publish --watch), read.c (get,
 * dump, stat, watch) and bench.c (bench); input.c reads TSV and CSV files;
 * smr.c has main, the help texts and the helpers below. */
#ifndef SMR_TOOL_H
#define SMR_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "smr/channel.h"
#include "smr/table.h"

/* Exit statuses (smr --help and smr(1) document them). */
#define XS_OK       0 /* success */
#define XS_NOTFOUND 1 /* a key missing, nothing published, watch timed out */
#define XS_USAGE    2 /* bad command line */
#define XS_INPUT    3 /* publish: the input file cannot be read or is invalid */
#define XS_CHANNEL  4 /* the channel cannot be opened, read or published */
#define XS_NOTABLE                                                             \
  5                 /* the payload is not a table (or dump cannot print it)    \
                     */
#define XS_SYSTEM 6 /* out of memory, fork, inotify, writing the output */

/* "smr publish" etc.: the prefix of every message. */
extern const char *tool_cmd;

/* "smr CMD: ...\n" on stderr. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error: the message, a hint to --help; returns XS_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An unsigned integer in [min, max] (decimal); false if not one. */
bool parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Seconds as a decimal number >= 0 (fractions allowed) in nanoseconds. */
bool parse_seconds(const char *s, int64_t *ns);

/* strerror(-err) followed by what the error means for a channel in that
 * context ("open" for readers and stat, "write" for writers). */
const char *chan_strerror(int err, bool writer);

/* Open a reader on ch that verifies each new version's checksum
 * (SMR_CHANNEL_VERIFY): XS_OK, or XS_CHANNEL with the message printed. */
int open_reader(const char *ch, smr_channel_reader **r);

/* open_reader, then smr_channel_read into *g: XS_OK, XS_NOTFOUND (nothing
 * published) or XS_CHANNEL (read_error's message), with *r closed. */
int open_and_read(const char *ch, smr_channel_reader **r, smr_channel_guard *g);

/* The message for smr_channel_read's error e on r (a checksum mismatch named
 * as such); returns XS_CHANNEL. */
int read_error(const char *ch, smr_channel_reader *r, int e);

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t now_ns(void);

/* "cannot write the output: <errno text>"; returns XS_SYSTEM. */
int write_error(void);

/* Flush stdout: XS_OK, or write_error() if it or an earlier write failed. */
int flush_stdout(void);

/* Print text (a --help) on stdout: flush_stdout()'s status. */
int print_text(const char *text);

/* getopt_long error handling shared by the subcommands: the message for an
 * unknown option or a missing argument; returns XS_USAGE. */
int bad_option(int c, char **argv);

/* Subcommands: argc/argv start at the subcommand's name. */
int cmd_publish(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* A reader's table, re-validated only when the version changes. */
struct table_cache {
  uint64_t version; /* 0: nothing cached */
  const void *data;
  int error; /* smr_table_open's result for that version */
  smr_table t;
};

/* Under a held guard g: the table of g's version (0), or the error that
 * smr_table_open gave for it (then the payload is not a table). */
int table_of(struct table_cache *c, const smr_channel_guard *g,
             const smr_table **t);

#endif
