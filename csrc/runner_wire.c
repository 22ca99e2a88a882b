/* The runner's wire: JSON text and records on pipes and sockets, and the plan's integers.
 * Used by the plan parser, the cell's process and the team alike; calls none of them.  Nothing
 * here calls malloc: the runner's parent keeps its heap as a fresh program's. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner_wire.h"

/* ---- plan integers -------------------------------------------------------------------------- */

int ab_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

void ab_json_raw(struct ab_json *j, const char *text)
{
    size_t n = strlen(text), room = sizeof j->text - 1 - j->len;
    n = n < room ? n : room;
    memcpy(j->text + j->len, text, n);
    j->len += n;
    j->text[j->len] = '\0';
}

void ab_json_key(struct ab_json *j, const char *key)
{
    if (j->len > 0 && j->text[j->len - 1] != '{')
        ab_json_raw(j, ", ");
    ab_json_str(j, key);
    ab_json_raw(j, ": ");
}

/* Bytes of the well-formed UTF-8 character at p (1 to 4), or 0 when none starts there
 * (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short). */
static size_t utf8_length(const unsigned char *p)
{
    size_t n = p[0] < 0x80 ? 1 : p[0] < 0xC2 ? 0 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3
             : p[0] < 0xF5 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0)
        || (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

void ab_json_str(struct ab_json *j, const char *value)
{
    if (value == NULL) {
        ab_json_raw(j, "null");
        return;
    }
    char one[8];
    ab_json_raw(j, "\"");
    for (const unsigned char *p = (const unsigned char *)value; *p;) {
        size_t n = utf8_length(p);
        if (*p == '"' || *p == '\\')
            snprintf(one, sizeof one, "\\%c", *p);
        else if (*p < 0x20)
            snprintf(one, sizeof one, "\\u%04x", *p);
        else if (n == 0) /* a byte of no UTF-8 character (a path may hold any): U+FFFD */
            snprintf(one, sizeof one, "\\ufffd"), n = 1;
        else
            memcpy(one, p, n), one[n] = '\0';
        ab_json_raw(j, one);
        p += n ? n : 1;
    }
    ab_json_raw(j, "\"");
}

void ab_json_num(struct ab_json *j, double value)
{
    char text[40];
    if (!isfinite(value)) {
        ab_json_raw(j, "null");
        return;
    }
    snprintf(text, sizeof text, "%.17g", value);
    ab_json_raw(j, text);
}

/* ---- records -------------------------------------------------------------------------------- */

int ab_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int ab_read_all(int fd, void *data, size_t len)
{
    char *p = data;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return got == 0 ? 0 : -1;
        got += (size_t)n;
    }
    return 1;
}

/* The runner's output during the rounds is buffered and flushed once per round: the reader then
 * wakes once a round, not once a batch, and leaves the CPUs to the cells. */
static int buffered_fd = -1;
static char out_buffer[1 << 16];
static size_t out_len;

void ab_buffer_output(int fd)
{
    buffered_fd = fd;
    out_len = 0;
}

int ab_flush_output(void)
{
    int rc = buffered_fd >= 0 && out_len > 0 ? ab_write_all(buffered_fd, out_buffer, out_len) : 0;
    out_len = 0;
    return rc;
}

int ab_send(int fd, uint32_t type, const void *payload, uint32_t length)
{
    if (fd == buffered_fd) {
        struct ab_record_header h = {type, length};
        if (out_len + sizeof h + length > sizeof out_buffer && ab_flush_output() != 0)
            return -1;
        if (sizeof h + length <= sizeof out_buffer) {
            memcpy(out_buffer + out_len, &h, sizeof h);
            if (length)
                memcpy(out_buffer + out_len + sizeof h, payload, length);
            out_len += sizeof h + length;
            return 0;
        }
    }
    /* One write for small records: a reader never sees half a header from a dying writer. */
    char buf[sizeof(struct ab_record_header) + sizeof(struct ab_json)];
    struct ab_record_header h = {type, length};
    if (length > sizeof buf - sizeof h)
        return ab_write_all(fd, &h, sizeof h) || ab_write_all(fd, payload, length) ? -1 : 0;
    memcpy(buf, &h, sizeof h);
    if (length)
        memcpy(buf + sizeof h, payload, length);
    return ab_write_all(fd, buf, sizeof h + length);
}

int ab_send_failed(int fd, uint32_t cell, int status, const char *reason,
                   long long headroom)
{
    struct ab_json j = {.len = 0};
    char num[32];
    ab_json_raw(&j, "{");
    ab_json_key(&j, "cell");
    snprintf(num, sizeof num, "%u", cell);
    ab_json_raw(&j, num);
    ab_json_key(&j, "status");
    snprintf(num, sizeof num, "%d", status);
    ab_json_raw(&j, num);
    ab_json_key(&j, "reason");
    ab_json_str(&j, reason);
    if (headroom >= 0) {
        snprintf(num, sizeof num, "%lld", headroom);
        ab_json_key(&j, "headroom");
        ab_json_raw(&j, num);
    }
    ab_json_raw(&j, "}");
    return ab_send(fd, AB_REC_FAILED, j.text, (uint32_t)j.len);
}
