/* Tests of stats.h against values worked out by hand (or textbook tables). */
#include <math.h>
#include "stats.h"
#include "testutil.h"

#define NEAR(x, y, eps) cr_assert(fabs((x) - (y)) <= (eps), "%.17g is not %.17g", (double)(x), (double)(y))

Test(stats, accumulator_mean_std_stderr)
{
    stats_acc a = {0};
    cr_assert(isnan(stats_acc_mean(&a)));
    const double x[] = {1, 0, 1, 1};
    for (int i = 0; i < 4; i++)
        stats_acc_add(&a, x[i]);
    /* mean 3/4; squared deviations 3·(1/4)² + (3/4)² = 3/4, over n−1 = 3: 1/4 */
    NEAR(stats_acc_mean(&a), 0.75, 1e-15);
    NEAR(stats_acc_std(&a), 0.5, 1e-15);
    NEAR(stats_acc_stderr(&a), 0.25, 1e-15);
    stats_acc one = {0};
    stats_acc_add(&one, 1.0);
    cr_assert(isnan(stats_acc_std(&one)));
}

Test(stats, wilson_interval)
{
    double lo, hi;
    stats_wilson(7, 10, STATS_Z95, &lo, &hi);   /* textbook: 0.3968 – 0.8922 */
    NEAR(lo, 0.3968, 1e-4);
    NEAR(hi, 0.8922, 1e-4);
    stats_wilson(0, 10, STATS_Z95, &lo, &hi);   /* z²/(n+z²) = 3.8415/13.8415 */
    NEAR(lo, 0.0, 1e-12);
    NEAR(hi, 0.27753, 1e-5);
    stats_wilson(10, 10, STATS_Z95, &lo, &hi);
    NEAR(lo, 1 - 0.27753, 1e-5);
    NEAR(hi, 1.0, 1e-12);
    stats_wilson(1, 2, 1.0, &lo, &hi);   /* z = 1: centre 1/2, half √(1/8 + 1/16)/(3/2) */
    NEAR(lo, 0.5 - sqrt(3.0 / 16.0) / 1.5, 1e-15);
    NEAR(hi, 0.5 + sqrt(3.0 / 16.0) / 1.5, 1e-15);
    stats_wilson(0, 0, STATS_Z95, &lo, &hi);
    cr_assert(isnan(lo) && isnan(hi));
}

Test(stats, pass_at_k_small_n)
{
    /* n = 5, c = 2: 1 − C(3,k)/C(5,k) = 1 − 3/5, 1 − 3/10, 1 − 1/10, 1, 1 */
    NEAR(stats_pass_at_k(5, 2, 1), 0.4, 1e-15);
    NEAR(stats_pass_at_k(5, 2, 2), 0.7, 1e-15);
    NEAR(stats_pass_at_k(5, 2, 3), 0.9, 1e-15);
    NEAR(stats_pass_at_k(5, 2, 4), 1.0, 0);
    NEAR(stats_pass_at_k(5, 2, 5), 1.0, 0);
    NEAR(stats_pass_at_k(4, 0, 2), 0.0, 0);
    NEAR(stats_pass_at_k(4, 4, 1), 1.0, 0);
    NEAR(stats_pass_at_k(4, 1, 2), 0.5, 1e-15);   /* 1 − C(3,2)/C(4,2) = 1 − 3/6 */
    /* large n: no overflow; k = 1 is always c/n */
    NEAR(stats_pass_at_k(100000, 12345, 1), 0.12345, 1e-12);
    cr_assert(isnan(stats_pass_at_k(3, 1, 4)));
    cr_assert(isnan(stats_pass_at_k(3, 1, 0)));
}

Test(stats, mcnemar_exact)
{
    NEAR(stats_mcnemar_exact(1, 6), 2.0 * 8 / 128, 1e-15);     /* 2·(1 + 7)/2⁷ */
    NEAR(stats_mcnemar_exact(6, 1), 2.0 * 8 / 128, 1e-15);
    NEAR(stats_mcnemar_exact(0, 5), 2.0 / 32, 1e-15);
    NEAR(stats_mcnemar_exact(2, 8), 2.0 * 56 / 1024, 1e-14);   /* 2·(1 + 10 + 45)/2¹⁰ */
    NEAR(stats_mcnemar_exact(3, 3), 1.0, 0);                   /* 2·42/64 > 1 */
    NEAR(stats_mcnemar_exact(0, 0), 1.0, 0);
    NEAR(stats_mcnemar_exact(5000, 5000), 1.0, 0);
    double tiny = stats_mcnemar_exact(0, 3000);
    cr_assert(tiny >= 0 && tiny < 1e-300);
}

Test(stats, percentiles_nearest_rank)
{
    const double v[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    NEAR(stats_percentile(v, 10, 50), 5, 0);
    NEAR(stats_percentile(v, 10, 90), 9, 0);
    NEAR(stats_percentile(v, 10, 99), 10, 0);
    NEAR(stats_percentile(v, 10, 100), 10, 0);
    NEAR(stats_percentile(v, 3, 50), 2, 0);
    cr_assert(isnan(stats_percentile(v, 0, 50)));
}
