"""spamcorpus: a synthetic spam and ham corpus for the filter tests
(tests/0024-mail-filter.t, tests/0027-e2e.t): messages of two distinctive
word sets with common words between, the same for the same random.Random."""

SPAM_WORDS = ("viagra casino lottery winner jackpot prize bitcoin pharmacy discount "
              "cheap rolex replica loan credit guaranteed bonus millions claim").split()
HAM_WORDS = ("meeting agenda project review schedule minutes report budget quarterly "
             "deadline team lunch draft notes milestone roadmap retrospective").split()
COMMON = "the a and to of for you your this with is in on at we our please".split()


def message(cls, r, i, tag, to, id_domain):
    """Message i of class cls ("spam" or "ham") as bytes, for recipient to,
    its Message-ID <cls i.tag@id_domain>; r is the random.Random to draw from."""
    words = SPAM_WORDS if cls == "spam" else HAM_WORDS
    sender = "promo%d@deals.example.net" % i if cls == "spam" else "colleague%d@corp.example.org" % i
    body = " ".join(r.choice(words) if r.random() < 0.6 else r.choice(COMMON)
                    for _ in range(r.randint(40, 80)))
    subj = " ".join(r.choice(words) for _ in range(3))
    return ("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s%d.%s@%s>\n"
            "Date: Mon, 1 Jan 2024 10:%02d:00 +0000\n\n%s\n"
            % (sender, to, subj, cls, i, tag, id_domain, i % 60, body)).encode()
