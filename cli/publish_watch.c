/* SPDX-License-Identifier: MIT */
/* smr publish --watch: keep the writer open and republish when the file's
 * directory reports close_write or moved_to for its name (inotify, no
 * polling); SIGINT and SIGTERM arrive through a signalfd between publishes.
 * It publishes only a file that no process is writing: not after a modify
 * seen since the last close_write (struct watch), not while a process has
 * it open for writing (a read lease, INPUT_NO_WRITERS, held while it is
 * read), and not if an event for it arrived or its identity (input_settle)
 * changed while it was read. */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "publish.h"

#define WATCH_MASK                                                             \
  (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MODIFY | IN_CREATE | IN_DELETE |          \
   IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

static void watch_event(struct watch *wt, const struct inotify_event *ev) {
  if (ev->mask & IN_Q_OVERFLOW) {
    /* Events were lost: look again; the lease and input_settle still
     * refuse a file being written. */
    wt->pending = wt->changed = true;
    wt->dirty = false;
    return;
  }
  if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
    wt->gone = true;
    return;
  }
  if (!ev->len || strcmp(ev->name, wt->base) != 0)
    return;
  wt->changed = true;
  if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
    wt->pending = true;
    wt->dirty = false;
  } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
    wt->pending = wt->dirty = false; /* nothing there to publish */
  } else if (ev->mask & IN_MODIFY) {
    wt->dirty = true; /* written (or truncated) after its last close */
  }
}

/* Read every queued event (the descriptor is non-blocking). */
void watch_drain(struct watch *wt) {
  union {
    struct inotify_event ev;
    char bytes[64 * (sizeof(struct inotify_event) + 256)];
  } u;
  for (;;) {
    ssize_t n = read(wt->fd, u.bytes, sizeof u.bytes);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    for (ssize_t i = 0; i < n;) {
      const struct inotify_event *ev = (const void *)(u.bytes + i);
      watch_event(wt, ev);
      i += (ssize_t)(sizeof *ev + ev->len);
    }
  }
}

/* Publish whenever the watch says so, until a signal on sfd or a fatal
 * error (bad input is reported and skipped). */
static int watch_loop(const struct pub_opts *o, smr_channel_writer **w,
                      struct watch *wt, int sfd, const char *dir) {
  /* The watch is in place before the first publish (wt->pending): a change
   * from here on is seen. */
  for (;;) {
    if (wt->gone) {
      msg("%s: the directory was removed or moved", dir);
      return XS_INPUT;
    }
    if (wt->pending) {
      wt->pending = false;
      if (wt->dirty) {
        msg("%s: modified again since it was closed, so still being "
            "written: not published until it is closed",
            o->path);
        continue;
      }
      int x = publish_once(w, o, wt);
      if (x != XS_OK && x != XS_INPUT)
        return x;
      continue;
    }
    struct pollfd pf[2] = {{sfd, POLLIN, 0}, {wt->fd, POLLIN, 0}};
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      msg("poll: %s", strerror(errno));
      return XS_SYSTEM;
    }
    if (pf[0].revents)
      return XS_OK; /* SIGINT or SIGTERM: exit 0 */
    watch_drain(wt);
  }
}

int watch_file(const struct pub_opts *o) {
  smr_channel_writer *w = NULL;
  int x = open_writer(o, &w);
  if (x != XS_OK)
    return x;
  char *dcopy = strdup(o->path), *bcopy = strdup(o->path);
  struct watch wt = {-1, NULL, true, false, false, false};
  int sfd = -1;
  if (!dcopy || !bcopy) {
    msg("out of memory");
    x = XS_SYSTEM;
    goto out;
  }
  const char *dir = dirname(dcopy);
  wt.base = basename(bcopy);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  /* A process opening the file for writing while it is read breaks the
   * lease, which signals SIGIO: it only has to wait for the read's end. */
  signal(SIGIO, SIG_IGN);
  if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
      (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
    msg("cannot catch signals: %s", strerror(errno));
    x = XS_SYSTEM;
    goto out;
  }
  wt.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (wt.fd < 0 || inotify_add_watch(wt.fd, dir, WATCH_MASK) < 0) {
    msg("%s: cannot watch the directory: %s", dir, strerror(errno));
    x = errno == ENOENT || errno == ENOTDIR || errno == EACCES ? XS_INPUT
                                                               : XS_SYSTEM;
    goto out;
  }
  x = watch_loop(o, &w, &wt, sfd, dir);
out:
  if (wt.fd >= 0)
    close(wt.fd);
  if (sfd >= 0)
    close(sfd);
  free(dcopy);
  free(bcopy);
  smr_channel_writer_close(w);
  return x;
}
