/* bayes: Robinson-Fisher scoring; see bayes.h. */
#include "config.h"

#include <math.h>

#include "bayes.h"

void bayes_defaults(struct bayes_params *p)
{
	p->robs = 0.0178;
	p->robx = 0.52;
	p->min_dev = 0.375;
	p->spam_cutoff = 0.99;
	p->ham_cutoff = 0.45;
}

double bayes_token(const struct bayes_params *p, struct token_counts c,
                   struct token_counts totals)
{
	/* a token's frequency in each class, so a corpus with more ham than
	 * spam does not make every token look hammy */
	double bad = (double)c.spam / (totals.spam ? totals.spam : 1);
	double good = (double)c.ham / (totals.ham ? totals.ham : 1);
	double n = (double)c.spam + (double)c.ham;
	double pw;

	if (n == 0 || bad + good <= 0)
		return p->robx;
	pw = bad / (bad + good);
	return (p->robs * p->robx + n * pw) / (p->robs + n);
}

/* ln Q(chi2 >= x2 | 2k degrees of freedom), the upper tail, by the series
 * SpamBayes uses: Q = e^-m * sum_{i<k} m^i / i!, m = x2/2. The terms are
 * summed in log space: e^-m alone underflows once m passes ~745, which
 * thousands of tokens reach while the sum is still near 1. */
static double log_chi2q(double x2, size_t k)
{
	double m = x2 / 2, lm, term, sum;

	if (m <= 0)
		return 0;
	lm = log(m);
	term = sum = -m;
	for (size_t i = 1; i < k; i++) {
		term += lm - log((double)i);
		/* sum = log(e^sum + e^term) */
		if (term > sum)
			sum = term + log1p(exp(sum - term));
		else
			sum += log1p(exp(term - sum));
		/* past the peak (i > m) the terms only shrink */
		if ((double)i > m && term < sum - 40)
			break;
	}
	return sum < 0 ? sum : 0;
}

double bayes_score(const struct bayes_params *p, const struct token_counts *c,
                   size_t n, struct token_counts totals, size_t *used)
{
	double lnf = 0, ln1f = 0, h, s, score;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		double f = bayes_token(p, c[i], totals);

		if (fabs(f - 0.5) < p->min_dev)
			continue;
		/* robs > 0 keeps f inside (0, 1); clamp for robs = 0 */
		if (f < 1e-12)
			f = 1e-12;
		else if (f > 1 - 1e-12)
			f = 1 - 1e-12;
		lnf += log(f);
		ln1f += log1p(-f);
		k++;
	}
	if (used != NULL)
		*used = k;
	if (k == 0)
		return 0.5;
	/* h near 1 when the tokens' f are near 1 (spam evidence against the
	 * ham hypothesis), s near 1 when they are near 0 */
	h = exp(log_chi2q(-2 * lnf, k));
	s = exp(log_chi2q(-2 * ln1f, k));
	score = (1 + h - s) / 2;
	return score < 0 ? 0 : score > 1 ? 1 : score;
}

const char *bayes_verdict(const struct bayes_params *p, double score)
{
	if (score >= p->spam_cutoff)
		return "Yes";
	if (p->ham_cutoff <= 0 || score <= p->ham_cutoff)
		return "No";
	return "Unsure";
}
