/* SPDX-License-Identifier: MIT */
/* Harness of README.md's snippet "swap_threads": the table helpers it
 * calls, then a main that runs two workers while the writer updates. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct table {
  int generation;
  char key[16], value[16];
};

static void table_free(void *value, void *ctx) {
  (void)ctx;
  free(value);
}
static struct table *table_copy(const struct table *t) {
  struct table *c = malloc(sizeof *c);
  if (c)
    *c = *t, c->generation++;
  return c;
}
static void table_put(struct table *t, const char *k, const char *v) {
  snprintf(t->key, sizeof t->key, "%s", k);
  snprintf(t->value, sizeof t->value, "%s", v);
}
static const char *table_get(const struct table *t, const char *k) {
  return strcmp(t->key, k) == 0 ? t->value : NULL;
}
static const char *next_key(void) {
  return "key";
}
static void handle(const char *v) {
  (void)v;
}

#include SMR_SNIPPET

int main(void) {
  struct table *t = calloc(1, sizeof *t);
  if (!t || setup(t) != 0)
    return 1;
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&th[i], NULL, worker, NULL) != 0)
      return 1;
  for (int i = 0; i < 1000; i++)
    if (update() != 0)
      return 1;
  atomic_store(&running, false);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  const struct table *cur = smr_swap_get(cell);
  if (cur->generation != 1000 || strcmp(table_get(cur, "key"), "value") != 0)
    return 1;
  return smr_swap_destroy(cell) == 0 ? 0 : 1;
}
