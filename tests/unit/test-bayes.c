/* lib/bayes.c: Robinson's f(w) and Fisher's chi-square combining, on
 * values worked out by hand and on the limits: no data, one-sided
 * evidence, min_dev, thousands of tokens, symmetry. */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "bayes.h"
#include "tap.h"

static int near(double a, double b, double eps)
{
	if (!(fabs(a - b) <= eps))
		printf("#   got %.12g, want %.12g\n", a, b);
	return fabs(a - b) <= eps;
}

int main(void)
{
	struct bayes_params p;
	struct token_counts tot = { 100, 100 }, c[10000];
	size_t used;
	double s, s2;

	bayes_defaults(&p);
	ok(p.robs == 0.0178 && p.robx == 0.52 && p.min_dev == 0.375 && p.spam_cutoff == 0.99 &&
	   p.ham_cutoff == 0.45, "bogofilter's defaults");

	/* f(w) = (s*x + n*p) / (s + n) */
	ok(near(bayes_token(&p, (struct token_counts){ 0, 0 }, tot), 0.52, 1e-12),
	   "an unseen token: robx");
	ok(near(bayes_token(&p, (struct token_counts){ 1, 0 }, tot),
	        (0.0178 * 0.52 + 1) / (0.0178 + 1), 1e-12), "one spam sighting");
	ok(near(bayes_token(&p, (struct token_counts){ 3, 1 }, tot),
	        (0.0178 * 0.52 + 4 * 0.75) / (0.0178 + 4), 1e-12), "3 spam, 1 ham");
	/* normalised by the totals: 10 of 100 spams, 10 of 1000 hams */
	ok(near(bayes_token(&p, (struct token_counts){ 10, 10 }, (struct token_counts){ 100, 1000 }),
	        (0.0178 * 0.52 + 20 * (0.1 / 0.11)) / (0.0178 + 20), 1e-12),
	   "counts normalised by the message totals");
	ok(near(bayes_token(&p, (struct token_counts){ 2, 0 }, (struct token_counts){ 0, 0 }),
	        (0.0178 * 0.52 + 2) / (0.0178 + 2), 1e-12), "totals of 0 do not divide by 0");

	/* no data */
	for (int i = 0; i < 50; i++)
		c[i] = (struct token_counts){ 0, 0 };
	s = bayes_score(&p, c, 50, (struct token_counts){ 0, 0 }, &used);
	ok(s == 0.5 && used == 0, "no data: 0.5, no token used (robx within min_dev)");
	ok(bayes_score(&p, c, 0, tot, &used) == 0.5 && used == 0, "no tokens: 0.5");
	p.min_dev = 0;
	s = bayes_score(&p, c, 50, tot, &used);
	ok(used == 50 && s > 0.5 && s < 0.7, "min_dev 0: unseen tokens lean to robx (%.4f)", s);
	p.min_dev = 0.375;

	/* one-sided evidence */
	for (int i = 0; i < 20; i++)
		c[i] = (struct token_counts){ 30, 0 };
	s = bayes_score(&p, c, 20, tot, &used);
	ok(s > 0.99 && used == 20, "all-spam tokens: near 1 (%.6f), spam", s);
	is_str(bayes_verdict(&p, s), "Yes", "verdict Yes");
	for (int i = 0; i < 20; i++)
		c[i] = (struct token_counts){ 0, 30 };
	s2 = bayes_score(&p, c, 20, tot, &used);
	ok(s2 < 0.01 && used == 20, "all-ham tokens: near 0 (%.6f)", s2);
	is_str(bayes_verdict(&p, s2), "No", "verdict No");
	ok(near(s + s2, 1, 1e-9), "mirror images score 1 - each other");

	/* balanced evidence */
	for (int i = 0; i < 10; i++)
		c[i] = (struct token_counts){ 30, 0 };
	for (int i = 10; i < 20; i++)
		c[i] = (struct token_counts){ 0, 30 };
	s = bayes_score(&p, c, 20, tot, &used);
	ok(near(s, 0.5, 1e-9) && used == 20, "as much spam as ham evidence: 0.5");
	is_str(bayes_verdict(&p, s), "Unsure", "verdict Unsure");

	/* min_dev: a token seen 3 spam / 2 ham has f = 0.6 and is dropped */
	c[0] = (struct token_counts){ 3, 2 };
	c[1] = (struct token_counts){ 30, 0 };
	s = bayes_score(&p, c, 2, tot, &used);
	s2 = bayes_score(&p, c + 1, 1, tot, NULL);
	ok(used == 1 && s == s2, "min_dev drops tokens near 0.5");
	/* one token of f: S = Q(-2 ln f, 2) = f, H = Q(-2 ln(1-f), 2) = 1-f:
	 * score = (1 + f - (1 - f)) / 2 = f */
	ok(near(s2, bayes_token(&p, c[1], tot), 1e-12), "one token: the score is its f(w)");
	/* two tokens f1, f2: Q(x, 4) = e^-m (1 + m) with m = -ln(f1 f2) */
	{
		double f1 = bayes_token(&p, (struct token_counts){ 30, 0 }, tot);
		double f2 = bayes_token(&p, (struct token_counts){ 0, 5 }, tot);
		double a = f1 * f2, b = (1 - f1) * (1 - f2);
		double want = (1 + a * (1 - log(a)) - b * (1 - log(b))) / 2;

		c[0] = (struct token_counts){ 30, 0 };
		c[1] = (struct token_counts){ 0, 5 };
		ok(near(bayes_score(&p, c, 2, tot, NULL), want, 1e-12),
		   "two tokens: the closed form of the 4-degree tail");
	}

	/* thousands of tokens: no underflow to NaN or a wrong 0 */
	for (int i = 0; i < 5000; i++)
		c[i] = (struct token_counts){ 1 + (unsigned)i % 7, (unsigned)i % 3 };
	s = bayes_score(&p, c, 5000, tot, &used);
	ok(isfinite(s) && s > 0.99, "5000 spammy tokens: finite, spam (%.6f, %zu used)", s, used);
	for (int i = 0; i < 5000; i++)
		c[i] = (struct token_counts){ (unsigned)i % 3, 1 + (unsigned)i % 7 };
	s2 = bayes_score(&p, c, 5000, tot, &used);
	ok(isfinite(s2) && s2 < 0.01, "5000 hammy tokens: finite, ham (%.6f)", s2);
	ok(near(s + s2, 1, 1e-9), "... and symmetric");
	for (int i = 0; i < 5000; i++)
		c[i] = i % 2 ? (struct token_counts){ 50, 1 } : (struct token_counts){ 1, 50 };
	s = bayes_score(&p, c, 5000, tot, &used);
	ok(isfinite(s) && near(s, 0.5, 1e-9), "5000 tokens split evenly: 0.5");
	for (int i = 0; i < 5000; i++)
		c[i] = (struct token_counts){ 4000000000u, 0 };
	s = bayes_score(&p, c, 5000, tot, &used);
	ok(isfinite(s) && s > 0.999, "huge counts: finite, spam");
	for (int i = 0; i < 5000; i++)
		c[i] = i % 10 ? (struct token_counts){ 2, 0 } : (struct token_counts){ 0, 2 };
	s = bayes_score(&p, c, 5000, tot, &used);
	ok(isfinite(s) && s > 0.99, "9:1 spam evidence in 5000 tokens: spam (%.6f)", s);

	/* 10,000 weak spam tokens (f = 0.89): -sum ln f is about 1,190, past
	 * where e^-m underflows, while the tail it starts is still near 1 */
	for (int i = 0; i < 10000; i++)
		c[i] = (struct token_counts){ 8, 1 };
	s = bayes_score(&p, c, 10000, tot, &used);
	ok(used == 10000 && s > 0.99, "10,000 weak spam tokens: spam, not 0.5 (%.6f)", s);
	for (int i = 0; i < 10000; i++)
		c[i] = (struct token_counts){ 1, 8 };
	s2 = bayes_score(&p, c, 10000, tot, &used);
	ok(s2 < 0.01 && near(s + s2, 1, 1e-9), "... and their mirror image: ham");

	/* cutoffs */
	is_str(bayes_verdict(&p, 0.99), "Yes", "0.99 is spam");
	is_str(bayes_verdict(&p, 0.45), "No", "0.45 is ham");
	is_str(bayes_verdict(&p, 0.46), "Unsure", "0.46 is unsure");
	p.ham_cutoff = 0;
	is_str(bayes_verdict(&p, 0.98), "No", "ham_cutoff 0: no unsure");
	return done_testing();
}
