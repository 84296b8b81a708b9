/* Unit tests for lib/message.c: the delivery transformation. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "message.h"
#include "tap.h"

static char out[300000];
static struct msg_stats st;
static struct err e;

/* Run message_copy over in (n bytes); the result lands in out. */
static int run(const char *in, size_t n, const char *rp, const char *dt, int mboxrd)
{
	FILE *fi = tmpfile(), *fo = tmpfile();
	struct msg_opts o = { rp, dt, mboxrd };
	size_t got;
	int rc;

	fwrite(in, 1, n, fi);
	fflush(fi);
	rewind(fi);
	rc = message_copy(fileno(fi), fileno(fo), &o, &st, &e);
	rewind(fo);
	got = fread(out, 1, sizeof out - 1, fo);
	out[got] = '\0';
	fclose(fi);
	fclose(fo);
	return rc;
}

#define RUN(s, rp, dt, mb) run((s), strlen(s), (rp), (dt), (mb))

int main(void)
{
	RUN("Subject: a\r\n\r\nline1\r\nline2\r\n", NULL, NULL, 0);
	is_str(out, "Subject: a\n\nline1\nline2\n", "CRLF becomes LF");
	ok(st.size == strlen(out), "size is the stored size");
	ok(st.lines == 4, "lines counts LF (W = S + lines)");

	RUN("Subject: a\n\nbare\rcr\r\n", NULL, NULL, 0);
	is_str(out, "Subject: a\n\nbare\rcr\n", "bare CR is kept");

	RUN("Subject: a\n\nno final newline", NULL, NULL, 0);
	is_str(out, "Subject: a\n\nno final newline\n", "a missing final newline is added");

	RUN("Return-Path: <forged@x>\n\tfolded\nSubject: a\n\nReturn-Path: body\n",
	    "s@example.org", "r@example.net", 0);
	is_str(out, "Return-Path: <s@example.org>\nDelivered-To: r@example.net\nSubject: a\n\n"
	       "Return-Path: body\n", "envelope headers prepended, old Return-Path (folded) dropped, body kept");

	RUN("Return-Path: <kept@x>\nSubject: a\n\nb\n", NULL, NULL, 0);
	is_str(out, "Return-Path: <kept@x>\nSubject: a\n\nb\n", "no sender given: Return-Path kept");

	RUN("Subject: a\n\nb\n", "", NULL, 0);
	is_str(out, "Return-Path: <>\nSubject: a\n\nb\n", "null sender is <>");

#define RCVD "Received: from a by b; Sat, 28 Nov 2026 05:19:42 +0000\n"
	ok(RUN(RCVD "Delivered-To: R@Example.NET\nSubject: a\n\nb\n", NULL, "r@example.net", 0) < 0 &&
	   e.code == EX_DATAERR, "Delivered-To below Received: is a loop (case-insensitive)");
	ok(RUN(RCVD "Delivered-To: <r@example.net>\n\nb\n", NULL, "r@example.net", 0) < 0,
	   "loop detected with angle brackets");
	ok(RUN(RCVD "Delivered-To:\n r@example.net\n\nb\n", NULL, "r@example.net", 0) < 0,
	   "loop detected in a folded value");
	ok(RUN(RCVD "Subject: x\nDelivered-To: r@example.net", NULL, "r@example.net", 0) < 0,
	   "loop detected in a header-only message without newline");
	ok(RUN("Delivered-To: r@example.net\n" RCVD "Subject: a\n\nb\n", NULL, "r@example.net", 0) == 0,
	   "Delivered-To above every Received: (Postfix local, qmail-local) is no loop");
	ok(RUN(RCVD "Delivered-To: other@example.net\n\nb\n", NULL, "r@example.net", 0) == 0,
	   "another recipient's Delivered-To is no loop");
	ok(RUN(RCVD "Subject: a\n\nDelivered-To: r@example.net\n", NULL, "r@example.net", 0) == 0,
	   "Delivered-To in the body is no loop");
	ok(RUN(RCVD "Delivered-To: r@example.net.evil\n\nb\n", NULL, "r@example.net", 0) == 0,
	   "a longer address is no loop");

	RUN("From sender@x Sat Nov 28 05:19:42 2026\nSubject: a\n\nb\n", NULL, NULL, 0);
	is_str(out, "Subject: a\n\nb\n", "a leading mbox From_ line is dropped");
	RUN("From : obs@x\nSubject: a\n\nb\n", NULL, NULL, 0);
	is_str(out, "From : obs@x\nSubject: a\n\nb\n", "obsolete 'From :' header is kept");

	RUN("hello world\nReturn-Path: x\n", "s@x", NULL, 0);
	is_str(out, "Return-Path: <s@x>\nhello world\nReturn-Path: x\n",
	       "a first line that is no header starts the body");

	RUN("", NULL, NULL, 0);
	is_str(out, "", "empty message stays empty");

	RUN("From: a@b\nSubject: x\n\nFrom here\n>From there\n>>From x\nFrom\nFro", NULL, NULL, 1);
	is_str(out, "From: a@b\nSubject: x\n\n>From here\n>>From there\n>>>From x\nFrom\nFro\n",
	       "mboxrd quoting of >*From lines only");
	RUN("Subject: x\n\nFrom here\n", NULL, NULL, 0);
	is_str(out, "Subject: x\n\nFrom here\n", "no quoting for Maildir");
	RUN("Subject: x\n\nFromage\n>>Fro\nFFrom x\n", NULL, NULL, 1);
	is_str(out, "Subject: x\n\nFromage\n>>Fro\nFFrom x\n", "near misses are not quoted");

	/* A first "name" longer than any header line: the body, kept whole. */
	{
		char longline[1600];
		memset(longline, 'a', 1500);
		strcpy(longline + 1500, "  : x\nReturn-Path: y\n");
		RUN(longline, "s@x", NULL, 0);
		ok(strncmp(out, "Return-Path: <s@x>\n", 19) == 0 && strcmp(out + 19, longline) == 0,
		   "an over-long field name starts the body, byte-exact");
	}

	/* A CRLF split across the 64 KiB read boundary. */
	{
		size_t n = 70000;
		char *big = malloc(n);
		memset(big, 'x', n);
		memcpy(big, "S: a\r\n\r\n", 8);
		big[65535] = '\r';
		big[65536] = '\n';
		big[n - 2] = '\r';
		big[n - 1] = '\n';
		run(big, n, NULL, NULL, 0);
		ok(st.size == n - 4 && out[65533] == '\n' && strchr(out, '\r') == NULL,
		   "CRLF across a read boundary is one LF");
		free(big);
	}
	return done_testing();
}
