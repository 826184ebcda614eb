/* SPDX-License-Identifier: MIT */
/* The collector's write side, two scenarios (issue 13):
 *
 *   retire  the cost of smr_collector_retire (node malloc'd, reclaimed with
 *           free) on one thread while G other threads hold a section open
 *           (entered, then parked on a condition variable until the run
 *           ends), for G = 0, 2, 8, 32, 100; ns per retire (median of the
 *           runs), heavy barriers per 1,000 retires, peak garbage.  seize
 *           0.5 goes from 0.36 us to 2.28 us between 8 and 100 such threads
 *           (a batch must hold one entry per active thread); the target
 *           here is the cost with 100 within 2x the cost with 2.
 *   stall   one thread enters a section and stalls (parked) while another
 *           retires --iters nodes: garbage (retired, not reclaimed) every
 *           10% of the run, for the collector in robust mode, the collector
 *           without it, and libsmr's epoch domain.
 *
 *   bench_collector [retire|stall] [--iters N] [--runs R] [--smoke]
 *
 * One line of JSON per measurement, then a table.  Method and results:
 * docs/BENCHMARKS.md section 9. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "smr/collector.h"
#include "smr/epoch.h"

#define CHECK0(x)                                                              \
  do {                                                                         \
    int r_ = (x);                                                              \
    if (r_ != 0) {                                                             \
      fprintf(stderr, "%s:%d: %s = %d\n", __FILE__, __LINE__, #x, r_);         \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

struct item {
  struct smr_collector_node cn;
  struct smr_retired er;
  uint64_t pad[2];
};

static void free_item(struct smr_collector_node *n, smr_collector_handle *h) {
  (void)h;
  free(SMR_CONTAINER_OF(n, struct item, cn));
}

static void free_item_epoch(struct smr_retired *r) {
  free(SMR_CONTAINER_OF(r, struct item, er));
}

/* ---- threads holding a section open ---- */

struct holders {
  smr_collector *c;
  smr_domain *d;
  pthread_mutex_t m;
  pthread_cond_t cv;
  int entered, release;
  unsigned n;
  pthread_t t[128];
};

static void *holder_main(void *p) {
  struct holders *hs = p;
  smr_collector_handle *h = NULL;
  smr_reader *r = NULL;
  if (hs->c) {
    CHECK0(smr_collector_register(hs->c, &h));
    smr_collector_enter(h);
  } else {
    CHECK0(smr_reader_register(hs->d, &r));
    smr_enter(r);
  }
  pthread_mutex_lock(&hs->m);
  hs->entered++;
  pthread_cond_broadcast(&hs->cv);
  while (!hs->release)
    pthread_cond_wait(&hs->cv, &hs->m);
  pthread_mutex_unlock(&hs->m);
  if (h) {
    smr_collector_leave(h);
    CHECK0(smr_collector_unregister(h));
  } else {
    smr_leave(r);
    CHECK0(smr_reader_unregister(r));
  }
  return NULL;
}

static void holders_start(struct holders *hs, unsigned n) {
  hs->n = n;
  hs->entered = hs->release = 0;
  pthread_mutex_init(&hs->m, NULL);
  pthread_cond_init(&hs->cv, NULL);
  for (unsigned i = 0; i < n; i++)
    CHECK0(pthread_create(&hs->t[i], NULL, holder_main, hs));
  pthread_mutex_lock(&hs->m);
  while (hs->entered < (int)n)
    pthread_cond_wait(&hs->cv, &hs->m);
  pthread_mutex_unlock(&hs->m);
}

static void holders_stop(struct holders *hs) {
  pthread_mutex_lock(&hs->m);
  hs->release = 1;
  pthread_cond_broadcast(&hs->cv);
  pthread_mutex_unlock(&hs->m);
  for (unsigned i = 0; i < hs->n; i++)
    CHECK0(pthread_join(hs->t[i], NULL));
  pthread_cond_destroy(&hs->cv);
  pthread_mutex_destroy(&hs->m);
}

static uint64_t garbage_of(smr_collector *c) {
  struct smr_collector_stats st;
  CHECK0(smr_collector_stats(c, &st));
  return st.garbage;
}

/* ---- retire ---- */

static void retire_scenario(const struct bench_opts *o) {
  static const unsigned guards[] = {0, 2, 8, 32, 100};
  static const unsigned modes[] = {0, SMR_COLLECTOR_ROBUST};
  double med[2][5];
  for (int m = 0; m < 2; m++)
    for (int gi = 0; gi < 5; gi++) {
      double ns[1000];
      uint64_t barriers = 0, peak = 0;
      for (int run = 0; run < o->runs; run++) {
        struct smr_collector_attr a = {.flags = modes[m]};
        smr_collector *c;
        CHECK0(smr_collector_create(&a, &c));
        smr_collector_handle *h;
        CHECK0(smr_collector_register(c, &h));
        struct holders hs = {.c = c};
        holders_start(&hs, o->smoke && guards[gi] > 8 ? 8 : guards[gi]);
        struct smr_collector_stats s0, s1;
        CHECK0(smr_collector_stats(c, &s0));
        int64_t t0 = bench_now_ns();
        for (uint64_t i = 0; i < o->iters; i++) {
          struct item *x = malloc(sizeof *x);
          if (!x)
            exit(1);
          smr_collector_node_init(c, &x->cn);
          smr_collector_retire(h, &x->cn, free_item, sizeof *x);
        }
        int64_t t1 = bench_now_ns();
        CHECK0(smr_collector_stats(c, &s1));
        uint64_t g = garbage_of(c);
        if (g > peak)
          peak = g;
        ns[run] = (double)(t1 - t0) / (double)o->iters;
        barriers += s1.heavy_barriers - s0.heavy_barriers;
        holders_stop(&hs);
        CHECK0(smr_collector_unregister(h));
        CHECK0(smr_collector_destroy(c));
        printf("{\"bench\":\"collector_retire\",\"robust\":%d,\"guards\":%u,"
               "\"run\":%d,\"iters\":%llu,\"ns_per_retire\":%.2f}\n",
               m, guards[gi], run, (unsigned long long)o->iters, ns[run]);
      }
      struct bench_stats st = bench_stats_of(ns, o->runs);
      med[m][gi] = st.median;
      printf("{\"bench\":\"collector_retire\",\"robust\":%d,\"guards\":%u,"
             "\"summary\":true,\"median_ns\":%.2f,\"min_ns\":%.2f,"
             "\"max_ns\":%.2f,\"barriers_per_1000\":%.2f,"
             "\"garbage_at_end\":%llu}\n",
             m, guards[gi], st.median, st.min, st.max,
             1000.0 * (double)barriers / (double)(o->iters * (uint64_t)o->runs),
             (unsigned long long)peak);
    }
  printf("\nretire cost with G threads holding a section open (ns per retire, "
         "median of %d runs of %llu retires; malloc and free included)\n",
         o->runs, (unsigned long long)o->iters);
  printf("%-10s", "G");
  for (int gi = 0; gi < 5; gi++)
    printf("%10u", guards[gi]);
  printf("%14s\n", "G=100 / G=2");
  for (int m = 0; m < 2; m++) {
    printf("%-10s", m ? "robust" : "default");
    for (int gi = 0; gi < 5; gi++)
      printf("%10.1f", med[m][gi]);
    printf("%13.2fx\n", med[m][4] / med[m][1]);
  }
}

/* ---- stall ---- */

static void stall_scenario(const struct bench_opts *o) {
  static const char *const names[] = {"collector_robust", "collector",
                                      "smr_epoch"};
  uint64_t at[3][11];
  for (int impl = 0; impl < 3; impl++) {
    smr_collector *c = NULL;
    smr_domain *d = NULL;
    smr_collector_handle *h = NULL;
    if (impl < 2) {
      struct smr_collector_attr a = {.flags = impl == 0 ? SMR_COLLECTOR_ROBUST
                                                        : 0};
      CHECK0(smr_collector_create(&a, &c));
      CHECK0(smr_collector_register(c, &h));
    } else {
      CHECK0(smr_domain_create(NULL, &d));
    }
    struct holders hs = {.c = c, .d = d};
    holders_start(&hs, 1);
    for (uint64_t i = 0, k = 0; i <= o->iters; i++) {
      if (i % (o->iters / 10) == 0 && k < 11)
        at[impl][k++] = c ? garbage_of(c) : smr_garbage_count(d);
      if (i == o->iters)
        break;
      struct item *x = malloc(sizeof *x);
      if (!x)
        exit(1);
      if (c) {
        smr_collector_node_init(c, &x->cn);
        smr_collector_retire(h, &x->cn, free_item, sizeof *x);
      } else {
        smr_retire(d, &x->er, free_item_epoch);
      }
    }
    holders_stop(&hs);
    for (int k = 0; k < 11; k++)
      printf("{\"bench\":\"collector_stall\",\"impl\":\"%s\",\"retired\":%llu,"
             "\"garbage\":%llu}\n",
             names[impl], (unsigned long long)(o->iters / 10 * (uint64_t)k),
             (unsigned long long)at[impl][k]);
    if (c) {
      CHECK0(smr_collector_unregister(h));
      CHECK0(smr_collector_destroy(c));
    } else {
      CHECK0(smr_domain_destroy(d));
    }
  }
  printf("\ngarbage (retired, not reclaimed) while one thread stalls in a "
         "section, one thread retiring %llu nodes\n",
         (unsigned long long)o->iters);
  printf("%-18s", "retired");
  for (int k = 0; k < 11; k++)
    printf("%10llu", (unsigned long long)(o->iters / 10 * (uint64_t)k));
  printf("\n");
  for (int impl = 0; impl < 3; impl++) {
    printf("%-18s", names[impl]);
    for (int k = 0; k < 11; k++)
      printf("%10llu", (unsigned long long)at[impl][k]);
    printf("\n");
  }
}

int main(int argc, char **argv) {
  const char *what = "all";
  if (argc > 1 && argv[1][0] != '-') {
    what = argv[1];
    argv[1] = argv[0];
    argv++;
    argc--;
  }
  struct bench_opts o = bench_parse(argc, argv, 1000000, 20000);
  if (strcmp(what, "retire") == 0 || strcmp(what, "all") == 0)
    retire_scenario(&o);
  if (strcmp(what, "stall") == 0 || strcmp(what, "all") == 0)
    stall_scenario(&o);
  return 0;
}
