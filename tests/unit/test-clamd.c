/* clamd client against a real clamd with a database of the EICAR test file
 * alone (built here by sigtool: Debian ships no signatures), over TCP and
 * a Unix socket; fake servers for the failures clamd will not produce on
 * demand (silence, garbage, an early answer); and the built-in EICAR check.
 * Skipped (TAP "1..0 # SKIP") when clamd or sigtool is not installed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "base64.h"
#include "clamd.h"
#include "eicar.h"
#include "prog.h"
#include "tap.h"

static char dir[64];
static pid_t clamd_pid = -1;
static char eicar[EICAR_LEN + 1];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cleanup(void)
{
	char cmd[128];

	if (clamd_pid > 0) {
		kill(clamd_pid, SIGTERM);
		waitpid(clamd_pid, NULL, 0);
		clamd_pid = -1;
	}
	if (dir[0] && snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) < (int)sizeof cmd)
		(void)!system(cmd);
}

static void write_file(const char *name, const void *p, size_t n)
{
	char path[256];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) < 0) {
		perror(path);
		exit(1);
	}
}

static int open_file(const char *name)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return open(path, O_RDONLY);
}

/* A TCP port on 127.0.0.1 that nothing listens on (just now). */
static int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0)
		return -1;
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* A listener on 127.0.0.1; its port in *port. */
static int listener(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    listen(fd, 8) < 0 || getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
		perror("listener");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

enum fake_mode { FAKE_SILENT, FAKE_AFTER_END, FAKE_EARLY };

/* A fake clamd in a child process: accepts one connection and, by mode,
 * says nothing (reads all, never answers), sends reply after the
 * terminating zero-length chunk, or sends it right after the command. */
static pid_t fake_server(enum fake_mode mode, const char *reply, size_t n, int *port)
{
	int l = listener(port);
	pid_t pid = fork();

	if (pid != 0) {
		close(l);
		return pid;
	}
	alarm(10);
	int c = accept(l, NULL, NULL);
	unsigned char buf[65536], tail[4] = { 1, 1, 1, 1 };
	ssize_t k;

	if (mode == FAKE_EARLY) {
		k = read(c, buf, 10);
		(void)!write(c, reply, n);
		pause();   /* holding the connection, reading no more */
		_exit(0);
	}
	while ((k = read(c, buf, sizeof buf)) > 0) {
		/* the last 4 bytes seen: the zero-length chunk ends the stream */
		if (k >= 4) {
			memcpy(tail, buf + k - 4, 4);
		} else {
			memmove(tail, tail + k, (size_t)(4 - k));
			memcpy(tail + 4 - k, buf, (size_t)k);
		}
		if (mode == FAKE_AFTER_END && memcmp(tail, "\0\0\0\0", 4) == 0)
			break;
	}
	if (mode == FAKE_AFTER_END) {
		(void)!write(c, reply, n);
		shutdown(c, SHUT_WR);
		while (read(c, buf, sizeof buf) > 0)
			;
	}
	_exit(0);
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int start_clamd(const char *clamd, const char *sigtool, int port)
{
	char cmd[1024], conf[2048], path[256], sock[256];
	struct err e;
	long long end;
	int k;

	k = snprintf(cmd, sizeof cmd,
		"cd '%s' && mkdir db && '%s' --md5 eicar.com | sed 's/:eicar.com$/:Eicar-Test-HDB/' >db/eicar.hdb && "
		"printf 'Eicar-Test-NDB:0:*:%%s\\n' \"$('%s' --hex-dump <eicar.com | tr -d '\\n')\" >db/eicar.ndb",
		dir, sigtool, sigtool);
	if (k < 0 || (size_t)k >= sizeof cmd || system(cmd) != 0)
		return -1;
	snprintf(sock, sizeof sock, "%s/clamd.sock", dir);
	k = snprintf(conf, sizeof conf,
		"DatabaseDirectory %s/db\nLocalSocket %s\nFixStaleSocket true\n"
		"TCPSocket %d\nTCPAddr 127.0.0.1\nForeground true\n%s"
		"LogFile %s/clamd.log\nPidFile %s/clamd.pid\nStreamMaxLength 1M\n"
		"ScanMail true\nScanArchive true\nSelfCheck 0\n",
		dir, sock, port, getuid() == 0 ? "User root\n" : "", dir, dir);
	if (k < 0 || (size_t)k >= sizeof conf)
		return -1;
	write_file("clamd.conf", conf, (size_t)k);
	snprintf(path, sizeof path, "%s/clamd.conf", dir);
	clamd_pid = fork();
	if (clamd_pid < 0)
		return -1;
	if (clamd_pid == 0) {
		int null = open("/dev/null", O_RDWR);

#ifdef __linux__
		/* no clamd left behind, even when this test crashes */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execl(clamd, "clamd", "-c", path, (char *)NULL);
		_exit(127);
	}
	end = now_ms() + 30000;
	while (now_ms() < end) {
		if (waitpid(clamd_pid, NULL, WNOHANG) == clamd_pid) {
			clamd_pid = -1;
			return -1;
		}
		if (clamd_ping(sock, 1000, &e) == 0)
			return 0;
		usleep(50000);
	}
	return -1;
}

static void test_eicar(void)
{
	char buf[256];
	struct eicar s;
	int all = 1;

	ok(eicar_in(eicar, EICAR_LEN), "eicar: the 68 bytes");
	snprintf(buf, sizeof buf, "%s\r\n", eicar);
	ok(eicar_in(buf, EICAR_LEN + 2), "eicar: followed by CRLF");
	memcpy(buf, eicar, EICAR_LEN);
	memset(buf + EICAR_LEN, ' ', EICAR_MAX - EICAR_LEN);
	buf[EICAR_LEN + 5] = '\t';
	buf[EICAR_LEN + 6] = 0x1a;
	ok(eicar_in(buf, EICAR_MAX), "eicar: white space up to 128 bytes");
	buf[EICAR_MAX] = ' ';
	ok(!eicar_in(buf, EICAR_MAX + 1), "eicar: not over 128 bytes");
	ok(!eicar_in(eicar, EICAR_LEN - 1), "eicar: not 67 bytes of it");
	memcpy(buf, eicar, EICAR_LEN);
	buf[EICAR_LEN] = 'x';
	ok(!eicar_in(buf, EICAR_LEN + 1), "eicar: not followed by other text");
	buf[0] = ' ';
	memcpy(buf + 1, eicar, EICAR_LEN);
	ok(!eicar_in(buf, EICAR_LEN + 1), "eicar: not after other bytes");
	memcpy(buf, eicar, EICAR_LEN);
	buf[40] ^= 0x20;
	ok(!eicar_in(buf, EICAR_LEN), "eicar: not with one byte changed");
	ok(!eicar_in("", 0), "eicar: not empty");
	for (size_t cut = 0; cut <= EICAR_LEN; cut++) {
		eicar_init(&s);
		eicar_feed(&s, eicar, cut);
		eicar_feed(&s, eicar + cut, EICAR_LEN - cut);
		eicar_feed(&s, "\n", 1);
		all &= eicar_found(&s);
	}
	ok(all, "eicar: found when split at every point");
	eicar_init(&s);
	for (size_t i = 0; i < EICAR_LEN; i++)
		eicar_feed(&s, eicar + i, 1);
	ok(eicar_found(&s), "eicar: fed one byte at a time");
	eicar_feed(&s, "\n", 1);
	eicar_feed(&s, "y", 1);
	eicar_feed(&s, "\n", 1);
	ok(!eicar_found(&s), "eicar: a later non-space byte rules it out");
}

static void test_address(void)
{
	static const char *bad[] = { "localhost", "::1:3310", "host:", "host:abc", "[::1]3310", ":3310", "" };
	struct err e;
	int all = 1;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		e.code = 0;
		all &= clamd_ping(bad[i], 500, &e) == -1 && e.code == EX_USAGE;
	}
	ok(all, "malformed addresses: EX_USAGE");
}

/* Scan file name at address; returns clamd_scan's value. */
static int scan(const char *address, const char *name, unsigned ms,
	struct clamd_result *r, struct err *e)
{
	int fd = open_file(name), ret;

	memset(e, 0, sizeof *e);
	r->infected = -1;
	ret = clamd_scan(address, fd, ms, r, e);
	close(fd);
	return ret;
}

static void test_fakes(void)
{
	struct clamd_result r;
	struct err e;
	char addr[64];
	int port, ret, l;
	long long t;
	pid_t pid;
	static const char evil[] = "stream: Evil\x1b[31m\x01Sig\xff FOUND";

	/* accepted by the kernel, never by a server */
	l = listener(&port);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	t = now_ms();
	ret = scan(addr, "clean.eml", 300, &r, &e);
	t = now_ms() - t;
	ok(ret == -1 && e.code == EX_TEMPFAIL && t >= 250 && t < 2000,
	   "never accepted: -1 EX_TEMPFAIL after the timeout (%lld ms: %s)", t, e.msg);
	close(l);

	pid = fake_server(FAKE_SILENT, NULL, 0, &port);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	t = now_ms();
	ret = scan(addr, "clean.eml", 300, &r, &e);
	t = now_ms() - t;
	ok(ret == -1 && e.code == EX_TEMPFAIL && t < 2000 && r.infected == 0,
	   "silent server: -1 EX_TEMPFAIL after the timeout (%lld ms: %s)", t, e.msg);
	reap(pid);

	pid = fake_server(FAKE_AFTER_END, "HELLO\r\n\0", 8, &port);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	ret = scan(addr, "clean.eml", 2000, &r, &e);
	ok(ret == -1 && e.code == EX_TEMPFAIL && strstr(e.msg, "protocol error") && strstr(e.msg, "\\x0d"),
	   "garbage reply: protocol error, escaped (%s)", e.msg);
	reap(pid);

	pid = fake_server(FAKE_AFTER_END, "stream: OK", 10, &port);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	ret = scan(addr, "clean.eml", 2000, &r, &e);
	ok(ret == -1 && e.code == EX_TEMPFAIL, "reply without its NUL: -1 EX_TEMPFAIL (%s)", e.msg);
	reap(pid);

	pid = fake_server(FAKE_AFTER_END, "stream: OK\0", 11, &port);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	ret = scan(addr, "clean.eml", 2000, &r, &e);
	ok(ret == 0 && r.infected == 0, "fake OK after the whole stream: clean (%s)", e.msg);
	reap(pid);

	pid = fake_server(FAKE_AFTER_END, evil, sizeof evil, &port);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	ret = scan(addr, "clean.eml", 2000, &r, &e);
	ok(ret == 0 && r.infected == 1, "fake FOUND: infected");
	is_str(r.signature, "Evil[31mSig", "signature keeps printable ASCII only");
	reap(pid);

	/* an OK before clamd has the whole message is no verdict on it */
	pid = fake_server(FAKE_EARLY, "stream: OK\0", 11, &port);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	ret = scan(addr, "huge.eml", 2000, &r, &e);
	ok(ret == -1 && e.code == EX_TEMPFAIL && r.infected == 0,
	   "OK sent before the end of the message: not clean (%s)", e.msg);
	reap(pid);

	pid = fake_server(FAKE_EARLY, "PING\0", 5, &port);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	ok(clamd_ping(addr, 500, &e) == -1 && e.code == EX_TEMPFAIL, "ping: a wrong answer fails (%s)", e.msg);
	reap(pid);
}

static void test_clamd(const char *sock, const char *tcp)
{
	const char *where[2] = { sock, tcp };
	const char *how[2] = { "unix", "tcp" };
	struct clamd_result r;
	struct err e;

	for (int i = 0; i < 2; i++) {
		int ret;

		ok(clamd_ping(where[i], 2000, &e) == 0, "%s: ping", how[i]);
		ret = scan(where[i], "clean.eml", 5000, &r, &e);
		ok(ret == 0 && r.infected == 0 && r.signature[0] == '\0', "%s: clean message is clean (%s)", how[i], e.msg);
		ret = scan(where[i], "eicar.eml", 5000, &r, &e);
		ok(ret == 0 && r.infected == 1, "%s: EICAR in the body is infected (%s)", how[i], e.msg);
		ok(strstr(r.signature, "Eicar-Test") != NULL, "%s: signature named: %s", how[i], r.signature);
		ret = scan(where[i], "attach.eml", 5000, &r, &e);
		ok(ret == 0 && r.infected == 1 && strstr(r.signature, "Eicar-Test"),
		   "%s: EICAR in a base64 attachment is infected (%s)", how[i], r.signature);
		ret = scan(where[i], "big.eml", 5000, &r, &e);
		ok(ret == CLAMD_TOOBIG && r.infected == 0 && e.code == EX_DATAERR,
		   "%s: 2 MB over StreamMaxLength 1M: CLAMD_TOOBIG, not clean (%d: %s)", how[i], ret, e.msg);
		ret = scan(where[i], "clean.eml", 5000, &r, &e);
		ok(ret == 0 && r.infected == 0, "%s: clamd still answers after the refusal", how[i]);
	}
}

static void test_down(void)
{
	struct clamd_result r;
	struct err e;
	char addr[300];
	long long t = now_ms();
	int ret;

	snprintf(addr, sizeof addr, "%s/no-such.sock", dir);
	ret = scan(addr, "clean.eml", 3000, &r, &e);
	ok(ret == -1 && e.code == EX_TEMPFAIL && r.infected == 0, "socket missing: -1 EX_TEMPFAIL (%s)", e.msg);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", free_port());
	ret = scan(addr, "clean.eml", 3000, &r, &e);
	ok(ret == -1 && e.code == EX_TEMPFAIL, "port closed: -1 EX_TEMPFAIL (%s)", e.msg);
	ok(clamd_ping(addr, 3000, &e) == -1 && e.code == EX_TEMPFAIL, "port closed: ping fails");
	t = now_ms() - t;
	ok(t < 1000, "clamd down: the answer is quick (%lld ms)", t);
}

static void make_messages(void)
{
	static const char clean[] = "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello, world.\r\n";
	char msg[2048], b64[BASE64_ENCODED_SIZE(EICAR_LEN)], path[256];
	size_t big = 2 * 1024 * 1024;
	char *p;
	int k;

	write_file("eicar.com", eicar, EICAR_LEN);
	write_file("clean.eml", clean, sizeof clean - 1);
	k = snprintf(msg, sizeof msg, "From: a@example.org\r\nSubject: test\r\n\r\n%s\r\n", eicar);
	write_file("eicar.eml", msg, (size_t)k);
	base64_encode(eicar, EICAR_LEN, b64);
	k = snprintf(msg, sizeof msg,
		"From: a@example.org\r\nSubject: attached\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
		"--b1\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
		"--b1\r\nContent-Type: application/octet-stream; name=\"t.com\"\r\n"
		"Content-Disposition: attachment; filename=\"t.com\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b1--\r\n", b64);
	write_file("attach.eml", msg, (size_t)k);
	if ((p = malloc(big)) == NULL)
		exit(1);
	for (size_t i = 0; i < big; i++)
		p[i] = (i % 72 == 71) ? '\n' : (char)('a' + i % 26);
	memcpy(p, "Subject: big\n\n", 14);
	write_file("big.eml", p, big);
	free(p);
	/* more than loopback's socket buffers hold, sparse on disk */
	write_file("huge.eml", "Subject: huge\n\n", 15);
	snprintf(path, sizeof path, "%s/huge.eml", dir);
	if (truncate(path, 64 << 20) < 0) {
		perror(path);
		exit(1);
	}
}

int main(void)
{
	char clamd[512], sigtool[512], sock[300], tcp[64];
	int port;

	/* the string in two halves, so this program is no test file itself */
	snprintf(eicar, sizeof eicar, "%s%s", "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR",
		"-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
	setvbuf(stdout, NULL, _IONBF, 0);
	test_eicar();
	test_address();

	snprintf(dir, sizeof dir, "%s", "/tmp/test-clamd.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	make_messages();
	test_fakes();
	test_down();
	if (!find_prog("clamd", clamd, sizeof clamd) || !find_prog("sigtool", sigtool, sizeof sigtool)) {
		ok(1, "# SKIP clamd or sigtool not installed: no real-clamd cases");
		return done_testing();
	}
	port = free_port();
	if (start_clamd(clamd, sigtool, port) < 0) {
		ok(0, "clamd started with the EICAR database");
		return done_testing();
	}
	snprintf(sock, sizeof sock, "%s/clamd.sock", dir);
	snprintf(tcp, sizeof tcp, "127.0.0.1:%d", port);
	test_clamd(sock, tcp);
	return done_testing();
}
