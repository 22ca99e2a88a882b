/* Internal to the runner: JSON text, records on pipes and sockets (ab_framing.h), and the
 * plan's integers; runner_wire.c calls no other unit of the runner. */
#ifndef AB_RUNNER_WIRE_H
#define AB_RUNNER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "ab_framing.h"

/* A plan field's unsigned decimal integer, at most `max`: 0 and *out, or -1 (no digits, a sign,
 * trailing text, or above max) with *out untouched. */
int ab_parse_u64(const char *text, uint64_t max, uint64_t *out);

/* A growing text buffer for one JSON record, on the stack: no malloc in the runner's parent. */
struct ab_json {
    char text[8192];
    size_t len;
};
void ab_json_raw(struct ab_json *j, const char *text);
void ab_json_key(struct ab_json *j, const char *key);      /* "key": (with a comma if needed) */
void ab_json_str(struct ab_json *j, const char *value);    /* a JSON string, or null */
void ab_json_num(struct ab_json *j, double value);         /* %.17g, or null when not finite */

/* Write all `len` bytes, retrying short writes and EINTR.  Returns 0 or -1. */
int ab_write_all(int fd, const void *data, size_t len);
/* Read exactly `len` bytes.  Returns 1, 0 at a clean EOF before any byte, -1 on error. */
int ab_read_all(int fd, void *data, size_t len);
/* One record: header + payload.  Returns 0 or -1. */
int ab_send(int fd, uint32_t type, const void *payload, uint32_t length);
/* From now on, records sent to `fd` (-1: none) are buffered until ab_flush_output(). */
void ab_buffer_output(int fd);
/* Write the buffered records.  Returns 0 or -1. */
int ab_flush_output(void);
/* A FAILED record for `cell`; `headroom` (bytes of stack left, for AB_ESTACK) when >= 0. */
int ab_send_failed(int fd, uint32_t cell, int status, const char *reason, long long headroom);

#endif /* AB_RUNNER_WIRE_H */
