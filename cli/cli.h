/* SPDX-License-Identifier: MIT */
/* The smr command's shared declarations (exit codes, messages, options);
 * not to be confused with the library's include/smr.h.
 *
 * One file per subcommand: publish.c (with publish_watch.c for --watch,
 * and publish.h), get.c, dump.c, stat.c, watch.c, bench.c, ls.c and rm.c;
 * input.c reads TSV and CSV files (input.h); main.c has main, its help and the
 * dispatch; common.c the helpers below; reader.c the reading side's open,
 * read and table check (struct table_read). */
#ifndef SMR_CLI_H
#define SMR_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "smr/channel.h"
#include "smr/table.h"

/* Exit statuses (smr --help and smr(1) document them):
 * OK        success;
 * NOTFOUND  a key missing, nothing published, watch timed out;
 * USAGE     bad command line;
 * INPUT     publish: the input file cannot be read or is invalid;
 * CHANNEL   the channel cannot be opened, read or published;
 * NOTABLE   the payload is not a table (or dump cannot print it);
 * SYSTEM    out of memory, fork, inotify, writing the output. */
#define XS_OK       0
#define XS_NOTFOUND 1
#define XS_USAGE    2
#define XS_INPUT    3
#define XS_CHANNEL  4
#define XS_NOTABLE  5
#define XS_SYSTEM   6

/* "smr publish" etc.: the prefix of every message. */
extern const char *tool_cmd;

/* "smr CMD: ...\n" on stderr. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error: the message, a hint to --help; returns XS_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The options of a command that has one flag, --NAME (and -SHORT unless
 * short_name is 0), and -h/--help: *set says whether the flag was given.
 * -1 to go on (optind at the operands), else the exit status (help
 * printed, or a usage error). */
int flag_option(int argc, char **argv, const char *name, char short_name,
                const char *help, bool *set);

/* An unsigned integer in [min, max] (decimal); false if not one. */
bool parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Seconds as a decimal number >= 0 (fractions allowed) in nanoseconds. */
bool parse_seconds(const char *s, int64_t *ns);

/* strerror(-err) followed by what the error means for a channel in that
 * context ("open" for readers and stat, "write" for writers). */
const char *chan_strerror(int err, bool writer);

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

/* A JSON string of the n bytes at s on f: quotes and backslashes escaped,
 * control bytes and bytes that are not part of well-formed UTF-8 as
 * \u00XX (the byte's value), valid UTF-8 as it is.  True if no byte needed
 * \u00XX for being invalid (the string then reproduces s exactly). */
bool json_str(FILE *f, const void *s, size_t n);

/* "channel": NAME on f; a NAME that is not UTF-8 is followed by sep and
 * "channel_hex": its exact bytes in hex. */
void json_channel(FILE *f, const char *ch, const char *sep);

/* The path of channel ch's state file (CH.smr, in /dev/shm for a name
 * without '/'), for messages; valid until the next call. */
const char *state_path(const char *ch);

/* The width of the terminal on fd (TIOCGWINSZ), else $COLUMNS, else 80. */
int term_columns(int fd);

/* Subcommands: argc/argv start at the subcommand's name. */
int cmd_publish(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_rm(int argc, char **argv);

/* ---- reader.c ---- */

/* Open a reader on ch that verifies each new version's checksum
 * (SMR_CHANNEL_VERIFY): XS_OK, or XS_CHANNEL with the message printed. */
int open_reader(const char *ch, smr_channel_reader **r);

/* The message for smr_channel_read's error e on r (a checksum mismatch named
 * as such); returns XS_CHANNEL. */
int read_error(const char *ch, smr_channel_reader *r, int e);

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

/* A channel's current table: the reader, the guard pinning the version
 * (while held) and the table in it. */
struct table_read {
  smr_channel_reader *r; /* NULL: not open */
  smr_channel_guard g;
  bool held; /* g pins a version */
  struct table_cache tc;
  const smr_table *t;
  int sum;      /* open_table_lazy: 0 unchecked, 1 checksum ok, < 0 mismatch */
  bool checked; /* open_table_lazy(verify): each read range verified */
};

/* The step of table_read that failed. */
enum table_step { STEP_OPEN, STEP_READ, STEP_TABLE };

/* Open a reader on ch (flags: smr_channel_reader_open's), pin its current
 * version and check that the payload is a table.  0 with tr->t the table,
 * or the -errno of the step *step that failed (the payload's version is
 * still pinned when it is not a table).  No message; table_close ends it
 * either way. */
int table_read(const char *ch, unsigned flags, struct table_read *tr,
               enum table_step *step);

/* Release tr's guard, if held (the reader stays open). */
void table_release(struct table_read *tr);

/* Release tr's guard and close its reader, whatever table_read did. */
void table_close(struct table_read *tr);

/* "channel CH: the payload of version V (S bytes) is not a table: ..."
 * for smr_table_open's error e; returns XS_NOTABLE. */
int not_a_table(const char *ch, const smr_channel_guard *g, int e);

/* The message for table_read's error e at step: XS_CHANNEL, XS_NOTFOUND
 * (nothing published) or XS_NOTABLE; closes tr. */
int table_read_error(const char *ch, struct table_read *tr, int e,
                     enum table_step step);

/* table_read with SMR_CHANNEL_VERIFY and its messages: XS_OK with tr's
 * guard held (table_close ends it), else table_read_error's status. */
int open_table(const char *ch, struct table_read *tr);

/* For a few lookups (smr get): open_table with a lazy open, so the table
 * costs O(1) to open.  verify: smr_table_open_checked with the blocks of
 * each range a lookup reads verified first (smr_channel_verify_range: a
 * few 64 KiB blocks per lookup, not the payload; a flipped bit in them
 * prints nothing).  !verify (smr get --no-verify): the whole checksum is
 * checked only when in doubt, a header that is not a table's and in
 * table_get.  Either way only the pages read are touched.  XS_OK, or the
 * status with the message printed (tr closed). */
int open_table_lazy(const char *ch, bool verify, struct table_read *tr);

/* Look key up in a table from open_table_lazy: 0 and *v (the record's bytes
 * bounds-checked and, with verify, checksummed; without, a flipped bit in
 * a value goes unnoticed); -ENOENT (a miss, from checksummed bytes: with
 * verify those the probe read, without it the whole payload, verified at
 * the first miss, O(size)); or, the message printed, XS_CHANNEL (checksum
 * mismatch) or XS_NOTABLE (a corrupt probe in bytes whose checksum
 * matches). */
int table_get(const char *ch, struct table_read *tr, const void *key,
              size_t klen, smr_table_value *v);

#endif
