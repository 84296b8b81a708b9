#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

long long io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ssize_t io_read(int fd, void *buf, size_t n)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

int io_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void io_out_init(struct io_out *o, int fd)
{
	o->fd = fd;
	o->error = 0;
	o->len = 0;
	o->written = 0;
}

static void drain(struct io_out *o)
{
	if (o->len > 0 && o->error == 0 && io_write_all(o->fd, o->buf, o->len) < 0)
		o->error = errno;
	o->len = 0;
}

void io_out_write(struct io_out *o, const void *p, size_t n)
{
	o->written += n;
	if (o->len + n > sizeof o->buf) {
		drain(o);
		if (n >= sizeof o->buf) {
			if (o->error == 0 && io_write_all(o->fd, p, n) < 0)
				o->error = errno;
			return;
		}
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

int io_out_flush(struct io_out *o)
{
	drain(o);
	if (o->error != 0) {
		errno = o->error;
		return -1;
	}
	return 0;
}
