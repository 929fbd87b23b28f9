/* stats — the small statistics of a run report: a running mean/variance, the
 * Wilson score interval, the unbiased pass@k estimator, the exact McNemar
 * test and nearest-rank percentiles.
 *
 * The formulas are those of docs/report.md §3. Pure core: numbers in, numbers out; no allocation, no I/O. Every function
 * is safe on the edge cases a report meets (n = 0, all passes, huge n): they
 * return NAN where a value is undefined instead of dividing by zero.
 */
#ifndef FCPIVOT_STATS_H
#define FCPIVOT_STATS_H

#include <stddef.h>

/* The two-sided 95% normal quantile, z = Φ⁻¹(0.975). */
#define STATS_Z95 1.959963984540054

/* A running count, sum and sum of squares. For rewards (values in [0, 1])
 * the variance (Σx² − (Σx)²/n) / (n − 1) loses nothing that matters, and for
 * binary rewards both sums are exact integers, so the figures do not depend
 * on the order the values came in (a run's file is rewritten sorted at the
 * end). Zero-initialise ({0}) to start. */
typedef struct stats_acc {
    size_t n;
    double sum, sumsq;
} stats_acc;

void stats_acc_add(stats_acc *a, double x);
/* The mean, sum / n (NAN when n = 0). */
double stats_acc_mean(const stats_acc *a);
/* The sample standard deviation, n − 1 in the denominator (NAN when n < 2). */
double stats_acc_std(const stats_acc *a);
/* The standard error of the mean: sample std / √n (NAN when n < 2). */
double stats_acc_stderr(const stats_acc *a);

/* The Wilson score interval of successes out of n at quantile z into
 * [*lo, *hi]; both NAN when n = 0 or successes > n. */
void stats_wilson(size_t successes, size_t n, double z, double *lo, double *hi);

/* The unbiased pass@k of one row with c correct out of n samples:
 * 1 − C(n−c, k) / C(n, k), computed as 1 − Π_{i=n−c+1..n} (1 − k/i) so no
 * binomial coefficient is ever formed. NAN when k = 0, k > n or c > n. */
double stats_pass_at_k(size_t n, size_t c, size_t k);

/* The exact two-sided McNemar p-value for b and c discordant pairs:
 * min(1, 2 · P[X ≤ min(b, c)]) with X ~ Binomial(b + c, ½), summed in log
 * space (any b + c). 1 when b + c = 0. */
double stats_mcnemar_exact(size_t b, size_t c);

/* The nearest-rank p-th percentile (0 < p ≤ 100) of sorted[0..n): the value
 * of rank ⌈p·n/100⌉. NAN when n = 0. */
double stats_percentile(const double *sorted, size_t n, double p);

#endif
