/* SPDX-License-Identifier: MIT */
/* smr rm: remove channels (smr_channel_unlink, which holds the writer lock
 * while it removes), refusing a channel whose writer is alive unless
 * --force, which then removes the files itself. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char rm_help[] =
    "Usage: smr rm [OPTIONS] CHANNEL...\n"
    "Remove each CHANNEL's files (CHANNEL.smr, its data files, lock and\n"
    "readers directory).  Readers that have it open keep their view of the\n"
    "last version and see that the channel was removed (smr watch exits 4).\n"
    "A channel whose writer is alive is refused: stop the writer first.\n"
    "\n"
    "Options:\n"
    "  -f, --force  remove it even while its writer runs: the files are\n"
    "               unlinked one by one; the writer goes on publishing into\n"
    "               files no new reader can open, and the next writer\n"
    "               creates the channel anew\n"
    "  -h, --help   this help\n"
    "\n"
    "Exit status: 0 every CHANNEL removed; 1 a CHANNEL does not exist (the\n"
    "others are still removed); 2 usage; 4 a CHANNEL could not be removed\n"
    "(a live writer, permissions, ...); 4 wins over 1.\n";

/* Unlink path, ignoring a missing file: 0 or -errno. */
static int unlink_file(const char *path) {
  return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
}

/* Remove the readers directory dir and its slot files: 0 or -errno. */
static int remove_readers(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return errno == ENOENT ? 0 : -errno;
  struct dirent *e;
  char path[4200];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
      unlink_file(path);
  }
  closedir(d);
  return rmdir(dir) == 0 || errno == ENOENT ? 0 : -errno;
}

/* --force while a writer holds the lock: the state file first (readers
 * then see the channel removed), then the rest.  XS_OK or XS_CHANNEL. */
static int force_remove(const char *ch) {
  char prefix[4100], path[4200];
  snprintf(prefix, sizeof prefix, "%s", state_path(ch));
  prefix[strlen(prefix) - 4] = '\0'; /* without ".smr" */
  int e = 0;
  /* The state file, the data files, a dead creation's file, the lock. */
  for (int i = -2; e == 0 && i < (int)SMR_CHANNEL_MAX_BUFFERS + 1; i++) {
    if (i == -2)
      e = snprintf(path, sizeof path, "%s.smr", prefix);
    else if (i == -1)
      e = snprintf(path, sizeof path, "%s.smr-new", prefix);
    else if (i < (int)SMR_CHANNEL_MAX_BUFFERS)
      e = snprintf(path, sizeof path, "%s.smr-data-%d", prefix, i);
    else
      e = snprintf(path, sizeof path, "%s.smr-lock", prefix);
    e = e >= (int)sizeof path ? -ENAMETOOLONG : unlink_file(path);
  }
  if (e == 0 &&
      snprintf(path, sizeof path, "%s.smr-readers", prefix) < (int)sizeof path)
    e = remove_readers(path);
  if (e < 0) {
    msg("channel '%s': cannot remove '%s': %s", ch, path, strerror(-e));
    return XS_CHANNEL;
  }
  return XS_OK;
}

/* Remove one channel: XS_OK, XS_NOTFOUND or XS_CHANNEL. */
static int rm_one(const char *ch, bool force) {
  struct smr_channel_stat st;
  int e = smr_channel_stat(ch, 0, &st, NULL, 0, NULL);
  if (e == 0 && st.writer_alive && !force) {
    msg("channel '%s' (%s): its writer (pid %d) is alive: not removed "
        "(stop it, or --force)",
        ch, state_path(ch), st.writer_pid);
    return XS_CHANNEL;
  }
  e = smr_channel_unlink(ch);
  if (e == -EBUSY && force)
    return force_remove(ch);
  if (e == -ENOENT) {
    msg("channel '%s': no such channel (%s)", ch, state_path(ch));
    return XS_NOTFOUND;
  }
  if (e == -EBUSY) {
    msg("channel '%s' (%s): a writer is running: not removed (stop it, or "
        "--force)",
        ch, state_path(ch));
    return XS_CHANNEL;
  }
  if (e < 0) {
    msg("channel '%s' (%s): cannot remove: %s", ch, state_path(ch),
        chan_strerror(e, false));
    return XS_CHANNEL;
  }
  return XS_OK;
}

int cmd_rm(int argc, char **argv) {
  bool force;
  int x = flag_option(argc, argv, "force", 'f', rm_help, &force);
  if (x >= 0)
    return x;
  if (argc - optind < 1)
    return usage_error("expected at least one CHANNEL");
  x = XS_OK;
  for (int i = optind; i < argc; i++) {
    int r = rm_one(argv[i], force);
    if (r > x)
      x = r;
  }
  return x;
}
