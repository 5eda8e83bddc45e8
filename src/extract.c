/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */

/*
 * The built-in "extractive" provider.  It cuts a text into sentences (or,
 * when the text looks like a log, into lines), gives each one a score for
 * how much it shares with the rest of the text, and returns the best one,
 * tidied and cut to EXTRACT_SUMMARY_MAX_CHARS characters.
 *
 * A term is a lower-cased ASCII word that is neither a stop word nor mostly
 * digits, or a pair of neighbouring CJK characters (a lone CJK character
 * when its run is one long).  Each distinct term of a sentence links it to
 * the other sentences that hold the term; the score adds up the square
 * roots of those counts and divides by the number of terms plus a
 * constant.  The root keeps a term found everywhere (a log's host name)
 * from outweighing several topic words; the constant keeps a three-word
 * heading from beating a sentence that says something.  This is close to
 * the sentence's degree in the graph that TextRank walks, found in linear
 * time instead of quadratic.
 *
 * The text is walked a few times, to tell a log from prose, to count terms
 * and to score, but never copied: the only memory is an open-addressing
 * table of term counts that grows with the number of distinct terms, and
 * the summary itself.  No
 * static state is written and no locale is consulted, so worker threads
 * call extract_summarize() at the same time without a lock.
 */

#include "extract.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uchar.h>

/* A line narrower than this, in columns, is not wrapped prose. */
#define EXTRACT_WRAP_MIN_COLUMNS 40
/* Lines longer than this do not look like log lines. */
#define EXTRACT_LOG_LINE_MAX_CHARS 512
/* Fewer lines than this are never treated as a log. */
#define EXTRACT_LOG_MIN_LINES 4
/*
 * Added to a sentence's term count when dividing its score by it, which
 * prefers sentences of a dozen terms or more to headings; chosen on the
 * corpus in tests/quality, where 8 to 40 score within a few hundredths.
 */
#define EXTRACT_SCORE_DAMPING 12.0
/* A cut inside a word moves back to a space at most this many characters. */
#define EXTRACT_CUT_BACK_CHARS 20
/* The longest stop word; longer words need no look-up. */
#define EXTRACT_STOP_WORD_MAX 7

/* Terms are known by a 64-bit hash alone; a collision is too rare to matter. */
struct extract_term {
	uint64_t hash;		/* 0 marks a free slot */
	size_t count;		/* how many sentences hold the term */
	size_t mark;		/* last sentence that counted it, from 1 */
};

struct extract_table {
	struct extract_term *slots;
	size_t mask;		/* number of slots minus one; a power of two */
	size_t used;
};

/* Walks the terms of one span of text. */
struct extract_terms {
	const char *pos;
	const char *end;
	uint32_t prev;		/* last CJK character of the current run */
	size_t run;		/* length of that run so far */
};

/* Walks the sentences of a text. */
struct extract_cursor {
	const char *pos;	/* where the search for the next one starts */
	const char *end;
	const char *line;	/* start of the line that holds pos */
	bool is_log;		/* cut at line ends only */
};

/* Sorted for bsearch(); words are split at apostrophes, hence "don". */
static const char *const extract_stop_words[] = {
	"about", "above", "after", "again", "all", "also", "am", "an", "and",
	"any", "are", "aren", "as", "at", "be", "been", "before", "being",
	"below", "between", "both", "but", "by", "can", "could", "did",
	"didn", "do", "does", "doesn", "doing", "don", "down", "during",
	"each", "few", "for", "from", "further", "had", "has", "have",
	"having", "he", "her", "here", "hers", "him", "his", "how", "if",
	"in", "into", "is", "isn", "it", "its", "itself", "just", "ll", "me",
	"more", "most", "my", "no", "nor", "not", "of", "off", "on", "once",
	"only", "or", "other", "our", "ours", "out", "over", "own", "re",
	"same", "she", "should", "so", "some", "such", "than", "that", "the",
	"their", "theirs", "them", "then", "there", "these", "they", "this",
	"those", "through", "to", "too", "under", "until", "up", "us", "ve",
	"very", "was", "wasn", "we", "were", "what", "when", "where",
	"which", "while", "who", "whom", "why", "will", "with", "won",
	"would", "you", "your", "yours",
};

/* Chinese particles: they glue words together rather than carry meaning. */
static const char32_t extract_cjk_particles[] = U"的了着吗呢吧啊";

/* Chinese function characters: pronouns, prepositions, conjunctions. */
static const char32_t extract_cjk_function[] =
    U"是在和与及或也都就而把被对于"
    U"之其这那我你他她它们个一有为"
    U"以将并从到由等请该此";

/* Units of dates and times, which follow digits. */
static const char32_t extract_cjk_units[] = U"年月日时分秒号点";

/* Chinese numerals that open a list item, as in "一、". */
static const char32_t extract_cjk_numerals[] = U"一二三四五六七八九十";

/*
 * Decodes one character.  The caller promises valid UTF-8, but a stray
 * byte still moves on by one as U+FFFD so that no loop can stall.
 */
static size_t
extract_decode(const char *p, const char *end, uint32_t *ret_cp)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t avail = (size_t)(end - p), n, i;
	uint32_t cp;

	if (s[0] < 0x80) {
		*ret_cp = s[0];
		return 1;
	}
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (n == 0 || n > avail) {
		*ret_cp = 0xfffd;
		return 1;
	}
	cp = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	*ret_cp = cp;
	return n;
}

static size_t
extract_count_chars(const char *a, const char *b)
{
	size_t n = 0;

	for (; a < b; a++)
		if (((unsigned char)*a & 0xc0) != 0x80)
			n++;
	return n;
}

static bool
extract_is_space(uint32_t cp)
{
	return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xa0 ||
	    cp == 0x3000;
}

static bool
extract_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool
extract_is_cjk(uint32_t cp)
{
	return (cp >= 0x4e00 && cp <= 0x9fff) ||
	    (cp >= 0x3400 && cp <= 0x4dbf) ||
	    (cp >= 0x3040 && cp <= 0x30ff) ||
	    (cp >= 0xac00 && cp <= 0xd7af) ||
	    (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0x20000 && cp <= 0x3ffff);
}

/* The width of [a, b) on a terminal, where CJK characters take two. */
static size_t
extract_count_columns(const char *a, const char *b)
{
	size_t n = 0;
	uint32_t cp;

	while (a < b) {
		a += extract_decode(a, b, &cp);
		n += extract_is_cjk(cp) || (cp >= 0x3000 && cp <= 0x303f) ||
		    (cp >= 0xff00 && cp <= 0xff60) ? 2 : 1;
	}
	return n;
}

/* CJK punctuation and full-width forms, around which no space is wanted. */
static bool
extract_is_cjk_mark(uint32_t cp)
{
	return (cp >= 0x3001 && cp <= 0x303f) || (cp >= 0xff01 &&
	    cp <= 0xff65) || cp == 0x2026 || cp == 0x201c || cp == 0x201d;
}

static bool
extract_is_ascii_stop(uint32_t cp)
{
	return cp == '.' || cp == '!' || cp == '?' || cp == ';';
}

/* These end a sentence whatever follows them. */
static bool
extract_is_cjk_stop(uint32_t cp)
{
	return cp == 0x3002 || cp == 0xff01 || cp == 0xff1f ||
	    cp == 0xff1b || cp == 0x2026;
}

/* Closing quotes and brackets that belong to the sentence they follow. */
static bool
extract_is_closer(uint32_t cp)
{
	return cp == '"' || cp == '\'' || cp == ')' || cp == ']' ||
	    cp == 0x2019 || cp == 0x201d || cp == 0x300d || cp == 0x300f ||
	    cp == 0xff09 || cp == 0x3011;
}

/* A bijective mixer, so distinct CJK keys never share a hash. */
static uint64_t
extract_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x != 0 ? x : 1;
}

static int
extract_compare_word(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static bool
extract_word_is_stop(const char *word)
{
	return bsearch(word, extract_stop_words,
	    sizeof(extract_stop_words) / sizeof(extract_stop_words[0]),
	    sizeof(extract_stop_words[0]), extract_compare_word) != NULL;
}

/*
 * Hashes the ASCII word [a, b) lower-cased.  Returns false for words that
 * say nothing about the topic: one letter, a stop word, or more digits than
 * letters, which drops timestamps, ports, ids and hex in logs.
 */
static bool
extract_word_hash(const char *a, const char *b, uint64_t *ret_hash)
{
	char lower[EXTRACT_STOP_WORD_MAX + 1];
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t n = (size_t)(b - a), letters = 0, i;
	char c;

	for (i = 0; i < n; i++) {
		c = a[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c >= 'a' && c <= 'z')
			letters++;
		if (i < EXTRACT_STOP_WORD_MAX)
			lower[i] = c;
		h = (h ^ (unsigned char)c) * 0x100000001b3ULL;
	}
	if (n < 2 || letters * 2 <= n)
		return false;
	if (n <= EXTRACT_STOP_WORD_MAX) {
		lower[n] = '\0';
		if (extract_word_is_stop(lower))
			return false;
	}
	*ret_hash = extract_mix(h);
	return true;
}

/*
 * XXX Only ASCII letters make words, and the stop words are English: in
 * French, German or Russian a word is cut at every accented or Cyrillic
 * letter or lost, so the summary of such a text is picked on little more
 * than its digits and Latin fragments, often just its first sentence.
 */
static bool
extract_is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

static bool
extract_cjk_is_in(const char32_t *set, uint32_t cp)
{
	for (; *set != 0; set++)
		if ((uint32_t)*set == cp)
			return true;
	return false;
}

/*
 * Chinese has no spaces, so a pair of neighbouring characters stands in for
 * a word.  Pairs with a particle, or made only of function characters, say
 * nothing about the topic and would tie every sentence to every other.
 */
static bool
extract_cjk_keeps_pair(uint32_t a, uint32_t b)
{
	if (extract_cjk_is_in(extract_cjk_particles, a) ||
	    extract_cjk_is_in(extract_cjk_particles, b))
		return false;
	return !(extract_cjk_is_in(extract_cjk_function, a) &&
	    extract_cjk_is_in(extract_cjk_function, b));
}

/*
 * A CJK character alone between other text is a term, unless it is a
 * particle, a function character or the unit of a date ("4月12日").
 */
static bool
extract_cjk_keeps_single(uint32_t a)
{
	return !extract_cjk_is_in(extract_cjk_particles, a) &&
	    !extract_cjk_is_in(extract_cjk_function, a) &&
	    !extract_cjk_is_in(extract_cjk_units, a);
}

/* Ends the current CJK run; a run of one character is a term of its own. */
static bool
extract_terms_end_run(struct extract_terms *it, uint64_t *ret_hash)
{
	bool is_single = it->run == 1;

	it->run = 0;
	if (!is_single || !extract_cjk_keeps_single(it->prev))
		return false;
	*ret_hash = extract_mix(1ULL << 62 | it->prev);
	return true;
}

/* Takes one CJK character; returns true when it completes a kept pair. */
static bool
extract_terms_cjk(struct extract_terms *it, uint32_t cp, uint64_t *ret_hash)
{
	uint32_t prev = it->prev;
	bool is_pair = it->run > 0;

	it->prev = cp;
	it->run++;
	if (!is_pair || !extract_cjk_keeps_pair(prev, cp))
		return false;
	*ret_hash = extract_mix(1ULL << 63 | (uint64_t)prev << 21 | cp);
	return true;
}

/* Stores the hash of the next term in ret_hash; false at the end. */
static bool
extract_terms_next(struct extract_terms *it, uint64_t *ret_hash)
{
	const char *w;
	uint32_t cp;
	size_t n;

	while (it->pos < it->end) {
		n = extract_decode(it->pos, it->end, &cp);
		if (extract_is_cjk(cp)) {
			it->pos += n;
			if (extract_terms_cjk(it, cp, ret_hash))
				return true;
			continue;
		}
		if (it->run > 0 && extract_terms_end_run(it, ret_hash))
			return true;
		if (!extract_is_word_char(*it->pos)) {
			it->pos += n;
			continue;
		}
		for (w = it->pos; it->pos < it->end &&
		    extract_is_word_char(*it->pos); it->pos++)
			;
		if (extract_word_hash(w, it->pos, ret_hash))
			return true;
	}
	return it->run > 0 && extract_terms_end_run(it, ret_hash);
}

static void
extract_terms_init(struct extract_terms *it, const char *a, const char *b)
{
	it->pos = a;
	it->end = b;
	it->prev = 0;
	it->run = 0;
}

static int
extract_table_init(struct extract_table *t, size_t len)
{
	size_t n = 64;

	/* About one distinct term per eight bytes, at a load of a half. */
	while (n < len / 4 && n < 65536)
		n *= 2;
	t->slots = calloc(n, sizeof(*t->slots));
	if (t->slots == NULL)
		return -ENOMEM;
	t->mask = n - 1;
	t->used = 0;
	return 0;
}

static void
extract_table_free(struct extract_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

/* Returns the slot that holds hash, or the free slot where it belongs. */
static struct extract_term *
extract_table_slot(const struct extract_table *t, uint64_t hash)
{
	size_t i = (size_t)hash & t->mask;

	while (t->slots[i].hash != 0 && t->slots[i].hash != hash)
		i = (i + 1) & t->mask;
	return &t->slots[i];
}

static int
extract_table_grow(struct extract_table *t)
{
	struct extract_table bigger;
	size_t n = t->mask + 1, i;

	if (n > SIZE_MAX / 2 / sizeof(*t->slots))
		return -ENOMEM;
	bigger.slots = calloc(n * 2, sizeof(*bigger.slots));
	if (bigger.slots == NULL)
		return -ENOMEM;
	bigger.mask = n * 2 - 1;
	bigger.used = t->used;
	for (i = 0; i < n; i++)
		if (t->slots[i].hash != 0)
			*extract_table_slot(&bigger, t->slots[i].hash) =
			    t->slots[i];
	free(t->slots);
	*t = bigger;
	return 0;
}

/* Counts hash once for sentence number mark. */
static int
extract_table_count(struct extract_table *t, uint64_t hash, size_t mark)
{
	struct extract_term *e;
	int r;

	e = extract_table_slot(t, hash);
	if (e->hash == 0 && (t->used + 1) * 2 > t->mask + 1) {
		r = extract_table_grow(t);
		if (r < 0)
			return r;
		e = extract_table_slot(t, hash);
	}
	if (e->hash == 0) {
		e->hash = hash;
		t->used++;
	}
	if (e->mark != mark) {
		e->mark = mark;
		e->count++;
	}
	return 0;
}

/* "- ", "* ", "1. ", "2) ", "3、", "一、": the start of a list item. */
static bool
extract_is_list_item(const char *p, const char *end)
{
	const char *q = p;
	uint32_t cp;

	if (end - p >= 2 && strchr("-*+", *p) != NULL && p[1] == ' ')
		return true;
	while (q < end && q - p < 3 && *q >= '0' && *q <= '9')
		q++;
	if (q == p) {
		q += extract_decode(p, end, &cp);
		if (cp == 0x2022 || cp == 0x00b7)
			return true;
		if (!extract_cjk_is_in(extract_cjk_numerals, cp))
			return false;
	}
	if (q < end && (*q == '.' || *q == ')'))
		return true;
	return q < end && extract_decode(q, end, &cp) > 1 && cp == 0x3001;
}

/* "Subject: ", "Next meeting: ", "时间：": a header or a labelled field. */
static bool
extract_is_field(const char *p, const char *end)
{
	const char *q = p;
	uint32_t cp = 0;
	size_t n = 0;

	if (p < end && *p >= 'A' && *p <= 'Z') {
		while (q < end && q - p < 24 && (extract_is_word_char(*q) ||
		    *q == '-' || *q == ' '))
			q++;
		return q < end && *q == ':';
	}
	while (q < end && n++ < 6) {
		q += extract_decode(q, end, &cp);
		if (!extract_is_cjk(cp))
			break;
	}
	return cp == 0xff1a && n > 1;
}

/* The last character of [a, b) that is not white space, or 0. */
static uint32_t
extract_last_char(const char *a, const char *b)
{
	const char *q;
	uint32_t cp;

	while (b > a) {
		q = b - 1;
		while (q > a && ((unsigned char)*q & 0xc0) == 0x80)
			q--;
		extract_decode(q, b, &cp);
		if (!extract_is_space(cp))
			return cp;
		b = q;
	}
	return 0;
}

/*
 * Decides whether the line break at nl ends a sentence.  Mail and reports
 * are often wrapped at 72 columns, so a break inside a long line of prose,
 * or before a lower-case word, is only a space; a blank line, a list item,
 * a labelled field, a line that ends in a colon and a short line (a
 * heading, a greeting) each end one.
 */
static bool
extract_newline_ends(const struct extract_cursor *c, const char *nl)
{
	const char *next = nl + 1;
	uint32_t last;

	while (next < c->end && extract_is_blank(*next))
		next++;
	if (next == c->end || *next == '\n')
		return true;
	last = extract_last_char(c->line, nl);
	if (last == ':' || last == 0xff1a)
		return true;
	if (extract_is_list_item(next, c->end) ||
	    extract_is_field(next, c->end))
		return true;
	if (*next >= 'a' && *next <= 'z')
		return false;
	return extract_count_columns(c->line, nl) < EXTRACT_WRAP_MIN_COLUMNS;
}

static bool
extract_is_title(const char *w, size_t n)
{
	static const char *const titles[] = {
		"dr", "mr", "mrs", "ms", "prof", "st", "vs",
	};
	size_t i, k;

	for (i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
		for (k = 0; k < n && titles[i][k] != '\0'; k++)
			if ((w[k] | 0x20) != titles[i][k])
				break;
		if (k == n && titles[i][k] == '\0')
			return true;
	}
	return false;
}

/*
 * Decides whether a lone full stop followed by white space and no
 * lower-case word ends a sentence.  It does not after an initial ("e.g.",
 * "J. Smith"), a title, or the number of a list item at the start of a
 * line.
 *
 * XXX These are guesses, not a model of English: a title missing from the
 * list ("Gen. Lee") ends a sentence and "plan B. Then" does not, so now
 * and then one sentence comes out as two, or two as one.
 */
static bool
extract_period_ends(const struct extract_cursor *c, const char *dot)
{
	const char *w = dot, *q;
	size_t n, digits = 0;

	while (w > c->line && extract_is_word_char(w[-1]))
		w--;
	n = (size_t)(dot - w);
	for (q = w; q < dot && *q >= '0' && *q <= '9'; q++)
		digits++;
	if (n == 1 && digits == 0)
		return false;
	if (n > 0 && n <= 3 && digits == n) {
		for (q = c->line; q < w && extract_is_blank(*q); q++)
			;
		if (q == w)
			return false;
	}
	return !extract_is_title(w, n);
}

/*
 * Looks at the stop mark at p.  Stores in ret_after where the scan goes on,
 * past the run of marks and closing quotes, and returns whether the
 * sentence ends there.  A CJK mark always ends it; an ASCII one only
 * before white space, the end of the text or a CJK character, and a full
 * stop, question or exclamation mark not before a lower-case word, as in
 * '"Done?" she asked.'
 */
static bool
extract_stop_ends(const struct extract_cursor *c, const char *p,
    const char **ret_after)
{
	const char *q = p;
	size_t marks = 0, n;
	bool is_cjk = false;
	uint32_t cp;

	while (q < c->end) {
		n = extract_decode(q, c->end, &cp);
		if (extract_is_cjk_stop(cp))
			is_cjk = true;
		else if (!extract_is_ascii_stop(cp) && !extract_is_closer(cp))
			break;
		marks += !extract_is_closer(cp);
		q += n;
	}
	*ret_after = q;
	if (is_cjk || q == c->end)
		return true;
	extract_decode(q, c->end, &cp);
	if (extract_is_cjk(cp))
		return *p != '.';
	if (!extract_is_space(cp))
		return false;
	if (*p == ';')
		return true;
	while (q < c->end && extract_is_blank(*q))
		q++;
	if (q < c->end && *q >= 'a' && *q <= 'z')
		return false;
	return *p != '.' || marks > 1 || extract_period_ends(c, p);
}

/* Skips white space, keeping track of the line. */
static const char *
extract_cursor_skip(struct extract_cursor *c)
{
	const char *p = c->pos;
	uint32_t cp;
	size_t n;

	while (p < c->end) {
		n = extract_decode(p, c->end, &cp);
		if (!extract_is_space(cp))
			break;
		if (cp == '\n')
			c->line = p + 1;
		p += n;
	}
	return p;
}

/* Returns the end of the sentence that starts at p. */
static const char *
extract_cursor_scan(struct extract_cursor *c, const char *p)
{
	const char *after;
	uint32_t cp;
	size_t n;

	while (p < c->end) {
		if (*p == '\n') {
			if (c->is_log || extract_newline_ends(c, p))
				return p;
			c->line = ++p;
			continue;
		}
		n = extract_decode(p, c->end, &cp);
		if (c->is_log || (!extract_is_ascii_stop(cp) &&
		    !extract_is_cjk_stop(cp))) {
			p += n;
			continue;
		}
		if (extract_stop_ends(c, p, &after))
			return after;
		p = after;
	}
	return p;
}

static void
extract_cursor_init(struct extract_cursor *c, const char *text, size_t len,
    bool is_log)
{
	c->pos = text;
	c->end = text + len;
	c->line = text;
	c->is_log = is_log;
}

/* Stores the next sentence, trimmed, in [ret_start, ret_end). */
static bool
extract_cursor_next(struct extract_cursor *c, const char **ret_start,
    const char **ret_end)
{
	const char *start, *stop;

	start = extract_cursor_skip(c);
	if (start == c->end) {
		c->pos = start;
		return false;
	}
	stop = extract_cursor_scan(c, start);
	c->pos = stop;
	while (stop > start && extract_is_blank(stop[-1]))
		stop--;
	*ret_start = start;
	*ret_end = stop;
	return true;
}

/* Whether [a, b) holds a sentence end. */
static bool
extract_line_has_stop(const char *a, const char *b)
{
	uint32_t cp;

	while (a < b) {
		a += extract_decode(a, b, &cp);
		if (extract_is_cjk_stop(cp))
			return true;
		if (!extract_is_ascii_stop(cp))
			continue;
		while (a < b && (extract_is_ascii_stop((unsigned char)*a) ||
		    extract_is_closer((unsigned char)*a)))
			a++;
		if (a == b || extract_is_blank(*a))
			return true;
	}
	return false;
}

static bool
extract_is_blank_line(const char *a, const char *b)
{
	for (; a < b; a++)
		if (!extract_is_blank(*a))
			return false;
	return true;
}

/*
 * A log is many lines of modest length that rarely hold a sentence end: it
 * is cut at every line break, and a full stop inside a line (a version, a
 * host name) is never taken for the end of a sentence.
 *
 * XXX A log whose messages end in full stops reads as prose; its lines are
 * then cut at sentence ends, and a long line with no full stop is joined
 * to the next as if wrapped, so the summary may span two log lines.
 */
static bool
extract_is_log_like(const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;
	size_t lines = 0, long_lines = 0, prose_lines = 0;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (!extract_is_blank_line(p, nl)) {
			lines++;
			long_lines += extract_count_chars(p, nl) >
			    EXTRACT_LOG_LINE_MAX_CHARS;
			prose_lines += extract_line_has_stop(p, nl);
		}
		p = nl < end ? nl + 1 : end;
	}
	return lines >= EXTRACT_LOG_MIN_LINES && long_lines * 10 < lines &&
	    prose_lines * 4 < lines;
}

/*
 * Counts, for each term, the sentences that hold it, and stores the number
 * of sentences in ret_count.  Sentence k marks its terms with k.
 */
static int
extract_count_terms(struct extract_table *t, const char *text, size_t len,
    bool is_log, size_t *ret_count)
{
	struct extract_cursor c;
	struct extract_terms it;
	const char *a, *b;
	size_t k = 0;
	uint64_t h;
	int r;

	extract_cursor_init(&c, text, len, is_log);
	while (extract_cursor_next(&c, &a, &b)) {
		k++;
		extract_terms_init(&it, a, b);
		while (extract_terms_next(&it, &h)) {
			r = extract_table_count(t, h, k);
			if (r < 0)
				return r;
		}
	}
	*ret_count = k;
	return 0;
}

/*
 * Scores the sentence [a, b) as the file header says.  A sentence too long
 * to be shown whole loses in proportion to what would be cut.
 */
static double
extract_score(struct extract_table *t, const char *a, const char *b,
    size_t mark)
{
	struct extract_terms it;
	struct extract_term *e;
	double links = 0.0, score;
	size_t terms = 0, chars;
	uint64_t h;

	extract_terms_init(&it, a, b);
	while (extract_terms_next(&it, &h)) {
		e = extract_table_slot(t, h);
		if (e->hash == 0 || e->mark == mark)
			continue;
		e->mark = mark;
		terms++;
		links += sqrt((double)(e->count - 1));
	}
	score = links / ((double)terms + EXTRACT_SCORE_DAMPING);
	chars = extract_count_chars(a, b);
	if (chars > EXTRACT_SUMMARY_MAX_CHARS)
		score *= (double)EXTRACT_SUMMARY_MAX_CHARS / (double)chars;
	return score;
}

/*
 * Stores the best sentence in [ret_start, ret_end); the first one wins a
 * tie, so the result depends on the text alone.  Marks continue after the
 * count pass's, so no table entry needs resetting.
 *
 * XXX The best sentence is the most typical one, not the most important:
 * in a log of a thousand routine lines and one "Out of memory", the
 * summary is a routine line, and one sentence cannot join two facts.
 */
static bool
extract_pick(struct extract_table *t, const char *text, size_t len,
    bool is_log, size_t count, const char **ret_start, const char **ret_end)
{
	struct extract_cursor c;
	const char *a, *b;
	double best = -1.0, score;
	size_t mark = count;

	extract_cursor_init(&c, text, len, is_log);
	while (extract_cursor_next(&c, &a, &b)) {
		score = extract_score(t, a, b, ++mark);
		if (score > best) {
			best = score;
			*ret_start = a;
			*ret_end = b;
		}
	}
	return best >= 0.0;
}

static bool
extract_is_cjk_text(uint32_t cp)
{
	return extract_is_cjk(cp) || extract_is_cjk_mark(cp);
}

/*
 * Copies [a, b) into out with white space trimmed and each run of it made
 * one space, stopping after max_chars characters, and returns how many it
 * wrote.  A line break between CJK characters leaves nothing, as Chinese
 * is wrapped without spaces.  out holds min(b - a, 4 * max_chars) + 1
 * bytes, as a run of white space never becomes more than one.
 */
static size_t
extract_collapse(const char *a, const char *b, char *out, size_t max_chars)
{
	size_t chars = 0, o = 0, n;
	bool is_gap = false, is_break = false;
	uint32_t cp, last = 0;

	while (a < b && chars < max_chars) {
		n = extract_decode(a, b, &cp);
		if (extract_is_space(cp)) {
			is_gap = chars > 0;
			is_break = is_break || cp == '\n';
			a += n;
			continue;
		}
		if (is_gap && !(is_break && extract_is_cjk_text(last) &&
		    extract_is_cjk_text(cp))) {
			out[o++] = ' ';
			if (++chars == max_chars)
				break;
		}
		is_gap = is_break = false;
		memcpy(out + o, a, n);
		o += n;
		a += n;
		chars++;
		last = cp;
	}
	out[o] = '\0';
	return chars;
}

/*
 * Cuts s, which is longer than EXTRACT_SUMMARY_MAX_CHARS characters, so
 * that it ends in "..." within the limit.  Inside a word the cut moves back
 * to the space before it when that is near, so no word is left in half.
 */
static void
extract_cut(char *s)
{
	size_t keep = EXTRACT_SUMMARY_MAX_CHARS - 3, chars = 0, i;
	size_t space = 0, space_chars = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		if (chars == keep)
			break;
		chars++;
		if (s[i] == ' ') {
			space = i;
			space_chars = chars;
		}
	}
	if (i > 0 && extract_is_word_char(s[i - 1]) &&
	    extract_is_word_char(s[i]) && space > 0 &&
	    chars - space_chars < EXTRACT_CUT_BACK_CHARS)
		i = space;
	while (i > 0 && strchr(" ,;:", s[i - 1]) != NULL)
		i--;
	memcpy(s + i, "...", 4);
}

/* A list item is shown without its bullet. */
static const char *
extract_skip_bullet(const char *a, const char *b)
{
	const char *q = a;
	uint32_t cp;
	size_t n;

	q += extract_decode(q, b, &cp);
	if (cp != '-' && cp != '*' && cp != '+' && cp != 0x2022)
		return a;
	if (q == b || !extract_is_blank(*q))
		return a;
	/* A bullet followed by nothing visible is all there is to show. */
	while (q < b) {
		n = extract_decode(q, b, &cp);
		if (!extract_is_space(cp))
			return q;
		q += n;
	}
	return a;
}

/* Makes the summary of the sentence [a, b) in a new string. */
static int
extract_render(const char *a, const char *b, char **ret_summary)
{
	size_t max_chars = EXTRACT_SUMMARY_MAX_CHARS + 1;
	size_t size = 4 * max_chars + 1;
	char *s;

	a = extract_skip_bullet(a, b);
	/* Collapsing never lengthens, and cutting only shortens. */
	if ((size_t)(b - a) < size)
		size = (size_t)(b - a) + 1;
	s = malloc(size);
	if (s == NULL)
		return -ENOMEM;
	if (extract_collapse(a, b, s, max_chars) == max_chars)
		extract_cut(s);
	*ret_summary = s;
	return 0;
}

/*
 * Summarizes len bytes of text, which must be valid UTF-8 without NUL
 * bytes, by the sentence or log line that shares most terms with the rest.
 * Stores in ret_summary a string of at most EXTRACT_SUMMARY_MAX_CHARS
 * characters, white space collapsed, that the caller frees.  Returns 0,
 * -EINVAL when the text is empty or only white space, or -ENOMEM.  Any
 * thread may call it; memory grows with the text's distinct terms.
 */
int
extract_summarize(const char *text, size_t len, char **ret_summary)
{
	struct extract_table table;
	const char *a = NULL, *b = NULL;
	size_t count;
	bool is_log;
	int r;

	if (text == NULL || len == 0)
		return -EINVAL;
	r = extract_table_init(&table, len);
	if (r < 0)
		return r;
	is_log = extract_is_log_like(text, len);
	r = extract_count_terms(&table, text, len, is_log, &count);
	if (r < 0)
		goto out;
	if (!extract_pick(&table, text, len, is_log, count, &a, &b)) {
		r = -EINVAL;
		goto out;
	}
	r = extract_render(a, b, ret_summary);
out:
	extract_table_free(&table);
	return r;
}
