/* stats — report statistics (see stats.h).
 *
 * How it works: the accumulator keeps Σx and Σx² (see stats.h). Wilson is the
 * closed form. pass@k multiplies the factors (1 − k/i), each in [0, 1), so it
 * neither overflows nor loses precision the way a ratio of two binomial
 * coefficients would. The McNemar tail is a binomial tail whose terms are
 * walked by their ratio C(m, i+1)/C(m, i) = (m − i)/(i + 1) in log space,
 * scaled by the largest term of the tail before exponentiating.
 */
#include "stats.h"

#include <math.h>

void stats_acc_add(stats_acc *a, double x)
{
    a->n++;
    a->sum += x;
    a->sumsq += x * x;
}

double stats_acc_mean(const stats_acc *a)
{
    return a->n ? a->sum / (double)a->n : NAN;
}

double stats_acc_std(const stats_acc *a)
{
    if (a->n < 2)
        return NAN;
    double n = (double)a->n, v = (a->sumsq - a->sum * a->sum / n) / (n - 1.0);
    return v > 0 ? sqrt(v) : 0.0;   /* rounding may leave a tiny negative */
}

double stats_acc_stderr(const stats_acc *a)
{
    return a->n < 2 ? NAN : stats_acc_std(a) / sqrt((double)a->n);
}

void stats_wilson(size_t successes, size_t n, double z, double *lo, double *hi)
{
    if (n == 0 || successes > n) {
        *lo = *hi = NAN;
        return;
    }
    double nn = (double)n, p = (double)successes / nn, z2 = z * z;
    double denom = 1.0 + z2 / nn;
    double centre = (p + z2 / (2.0 * nn)) / denom;
    double half = z * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
    *lo = fmax(0.0, centre - half);
    *hi = fmin(1.0, centre + half);
}

double stats_pass_at_k(size_t n, size_t c, size_t k)
{
    if (k == 0 || k > n || c > n)
        return NAN;
    if (n - c < k)
        return 1.0;
    double none = 1.0;   /* C(n−c, k) / C(n, k) */
    for (size_t i = n - c + 1; i <= n; i++)
        none *= 1.0 - (double)k / (double)i;
    return 1.0 - none;
}

double stats_mcnemar_exact(size_t b, size_t c)
{
    size_t m = b + c, lo = b < c ? b : c;
    if (m == 0)
        return 1.0;
    /* log C(m, i) − m·log 2 for i = 0..lo; the tail's largest term is the
     * last one, since lo ≤ m/2. */
    double logt = -(double)m * log(2.0), top = logt;
    for (size_t i = 0; i < lo; i++)
        top += log((double)(m - i) / (double)(i + 1));
    double sum = 0.0;
    for (size_t i = 0; i <= lo; i++) {
        sum += exp(logt - top);
        if (i < lo)
            logt += log((double)(m - i) / (double)(i + 1));
    }
    double p = 2.0 * sum * exp(top);
    return p < 1.0 ? p : 1.0;
}

double stats_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double rank = ceil(p * (double)n / 100.0);   /* p·n first: exact for integers */
    size_t r = rank < 1.0 ? 1 : rank > (double)n ? n : (size_t)rank;
    return sorted[r - 1];
}
