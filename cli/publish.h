/* SPDX-License-Identifier: MIT */
/* smr publish: what publish.c (the file to a published table) and
 * publish_watch.c (--watch) share. */
#ifndef SMR_CLI_PUBLISH_H
#define SMR_CLI_PUBLISH_H

#include "cli.h"
#include "input.h"

struct pub_opts {
  const char *channel, *path;
  enum input_format fmt;
  bool crlf, header, quiet, watch;
  bool mode_given; /* --mode: warn if an existing channel has another */
  int progress;    /* -1: auto (terminal and large input), 0 off, 1 on */
  uint64_t key_col, val_col; /* 0-based */
  struct smr_channel_options chan;
};

/* --watch: what the directory's events say about the file. */
struct watch {
  int fd;           /* inotify */
  const char *base; /* the file's name in its directory */
  bool pending;     /* closed after writing or renamed into place since the
                       last publish attempt: publish it */
  bool dirty;       /* modified since its last close_write or rename into
                       place: a writer is at work */
  bool changed;     /* any event for it since publish_once started */
  bool gone;        /* the directory was removed or moved */
};

/* Open the writer of o->channel: XS_OK, or XS_CHANNEL with the message. */
int open_writer(const struct pub_opts *o, smr_channel_writer **w);

/* Build the file's table in the channel and publish it.  *w is opened
 * here (after the input checked out) when NULL.  wt (--watch, else NULL):
 * refuse a file open for writing, or one an event reports changed while it
 * was read. */
int publish_once(smr_channel_writer **w, const struct pub_opts *o,
                 struct watch *wt);

/* Read every queued event of wt (the descriptor is non-blocking). */
void watch_drain(struct watch *wt);

/* publish --watch: publish o->path now and whenever it changes, until
 * SIGINT or SIGTERM (XS_OK) or a fatal error. */
int watch_file(const struct pub_opts *o);

#endif
