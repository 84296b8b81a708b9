/* io: whole reads and writes on file descriptors, and a buffered writer
 * that remembers its first error so a copy loop can check once at the end. */
#ifndef IO_H
#define IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IO_BUFSIZE 65536

/* Milliseconds on the monotonic clock, for deadlines. */
long long io_now_ms(void);

/* read(2) retried on EINTR. Returns bytes read, 0 at EOF, -1 with errno. */
ssize_t io_read(int fd, void *buf, size_t n);

/* Write all n bytes, looping on EINTR and partial writes.
 * Returns 0, or -1 with errno set. */
int io_write_all(int fd, const void *buf, size_t n);

struct io_out {
	int fd;
	int error;         /* first errno seen; 0 while all is well */
	size_t len;        /* bytes waiting in buf */
	uint64_t written;  /* bytes handed to the writer so far */
	char buf[IO_BUFSIZE];
};

void io_out_init(struct io_out *o, int fd);
void io_out_write(struct io_out *o, const void *p, size_t n);
/* Flush the buffer. Returns 0, or -1 with errno set to the first error
 * seen since io_out_init. */
int io_out_flush(struct io_out *o);

/* Little-endian 32-bit numbers, as cdb and the token database store them. */
static inline void io_put32le(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t io_get32le(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
