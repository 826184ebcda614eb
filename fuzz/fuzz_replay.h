/* The replay harnesses' command line (fuzz_shm_replay, fuzz_table_replay):
 * run `replay` once on each FILE, and on each file of each DIR in name
 * order (dot files skipped).  Returns main's exit status. */
#ifndef SMR_FUZZ_REPLAY_H
#define SMR_FUZZ_REPLAY_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fz_skip_dots(const struct dirent *de) {
  return de->d_name[0] != '.';
}

static int fz_replay_args(const char *prog, int argc, char **argv,
                          void (*replay)(const char *path)) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", prog);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat(argv[i], &sb) != 0) {
      fprintf(stderr, "%s: %s: %s\n", prog, argv[i], strerror(errno));
      return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
      replay(argv[i]);
      continue;
    }
    struct dirent **list;
    int n = scandir(argv[i], &list, fz_skip_dots, alphasort);
    if (n < 0) {
      fprintf(stderr, "%s: %s: %s\n", prog, argv[i], strerror(errno));
      return 1;
    }
    for (int j = 0; j < n; j++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[i], list[j]->d_name);
      replay(path);
      free(list[j]);
    }
    free(list);
  }
  return 0;
}

#endif /* SMR_FUZZ_REPLAY_H */
