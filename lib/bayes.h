/* bayes: a message's spamicity from its tokens' counts, as bogofilter
 * computes it: Robinson's f(w) for each token, the tokens near 0.5
 * dropped, the rest combined with Fisher's chi-square method. */
#ifndef BAYES_H
#define BAYES_H

#include <stddef.h>

#include "tokendb.h"

struct bayes_params {
	double robs;        /* Robinson's s: weight of robx against the data */
	double robx;        /* Robinson's x: f(w) of a token never seen */
	double min_dev;     /* tokens with |f(w) - 0.5| < min_dev are ignored */
	double spam_cutoff; /* score >= this: spam */
	double ham_cutoff;  /* score <= this: ham; between: unsure (0: no unsure) */
};

/* bogofilter's defaults: robs 0.0178, robx 0.52, min_dev 0.375,
 * spam_cutoff 0.99, ham_cutoff 0.45. */
void bayes_defaults(struct bayes_params *p);

/* Robinson's f(w) of one token given the trained message totals. */
double bayes_token(const struct bayes_params *p, struct token_counts c,
                   struct token_counts totals);

/* The spamicity in [0, 1] (1 = spam) of a message whose n tokens have the
 * counts c[0..n-1]; the caller passes each token once. *used (when not
 * NULL) receives how many tokens passed min_dev; with none the score is
 * 0.5. Never NaN, also with many thousands of tokens. */
double bayes_score(const struct bayes_params *p, const struct token_counts *c,
                   size_t n, struct token_counts totals, size_t *used);

/* "Yes", "No" or "Unsure" for a score, by the cutoffs. */
const char *bayes_verdict(const struct bayes_params *p, double score);

#endif
