/* The SFU's fan-out loop in C: one call per packet from a publisher writes, protects and sends it to every
 * started subscriber of that track.
 *
 * Python (webrtc/fastpath.py) keeps one ieum_out per binding in a table it owns; this file only reads it.
 * Each entry names the subscriber's libsrtp session (srtp_t, owned by pylibsrtp and kept alive by the
 * Python Transport), a socket descriptor the Transport dup()ed for itself (so it stays valid however
 * aioice closes its own), the remote address, and the rewrite state: SSRC, payload type and the sequence
 * and timestamp offsets. srtp_protect's address comes from pylibsrtp's own compiled module, so this links
 * against nothing but libc.
 *
 * Built by `python -m webrtc.fastpath build` (scripts/_setup.sh runs it); without a C compiler the SFU
 * falls back to the same loop in Python.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*ieum_protect_fn)(void *ctx, void *rtp, int *len);

typedef struct {
    void *srtp;          /* srtp_t */
    const int *alive;    /* the Transport's flag: 0 once it closed */
    int fd;
    uint32_t ssrc;
    uint32_t ts_off;
    uint16_t seq_off;
    uint8_t pt;
    uint8_t started;     /* offsets chosen (the subscriber got a key frame first) */
    uint32_t addrlen;
    uint8_t addr[28];    /* struct sockaddr_in or sockaddr_in6 */
} ieum_out;

typedef struct {
    int sent;
    int srtp_errors;
    int blocked;         /* EAGAIN: the subscriber's socket buffer was full; dropped as the network would */
    int send_errors;
    int skipped;         /* not started, or its transport closed */
} ieum_result;

#define IEUM_BUF 1600 /* an RTP packet of at most 1500 bytes plus the SRTP trailer */

int ieum_fanout(ieum_protect_fn protect, const ieum_out *outs, int n, uint8_t b0, uint8_t marker,
                uint16_t seq, uint32_t ts, const uint8_t *tail, int tail_len, ieum_result *res)
{
    uint8_t buf[IEUM_BUF];
    int i;
    if (tail_len < 0 || 12 + tail_len > IEUM_BUF - 32)
        return -1;
    memset(res, 0, sizeof(*res));
    /* The payload is the same for everyone: copy it once, then rewrite the header and re-copy only
     * what libsrtp encrypted in place. */
    for (i = 0; i < n; i++) {
        const ieum_out *o = &outs[i];
        uint16_t s;
        uint32_t t;
        int len;
        ssize_t w;
        if (!o->started || o->alive == NULL || !*o->alive) {
            res->skipped++;
            continue;
        }
        s = (uint16_t)(seq + o->seq_off);
        t = ts + o->ts_off;
        buf[0] = b0;
        buf[1] = (uint8_t)(marker | o->pt);
        buf[2] = (uint8_t)(s >> 8);
        buf[3] = (uint8_t)s;
        buf[4] = (uint8_t)(t >> 24);
        buf[5] = (uint8_t)(t >> 16);
        buf[6] = (uint8_t)(t >> 8);
        buf[7] = (uint8_t)t;
        buf[8] = (uint8_t)(o->ssrc >> 24);
        buf[9] = (uint8_t)(o->ssrc >> 16);
        buf[10] = (uint8_t)(o->ssrc >> 8);
        buf[11] = (uint8_t)o->ssrc;
        memcpy(buf + 12, tail, (size_t)tail_len);
        len = 12 + tail_len;
        if (protect(o->srtp, buf, &len) != 0) {
            res->srtp_errors++;
            continue;
        }
        w = sendto(o->fd, buf, (size_t)len, MSG_DONTWAIT, (const struct sockaddr *)o->addr,
                   (socklen_t)o->addrlen);
        if (w >= 0)
            res->sent++;
        else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            res->blocked++;
        else
            res->send_errors++;
    }
    return res->sent;
}

/* The floor the load test compares against, measured the same way: protect one packet and send it, `count`
 * times, from C (with do_send 0: protect only). Returns the number protected and sent. */
int ieum_floor(ieum_protect_fn protect, void *srtp, int fd, const uint8_t *addr, uint32_t addrlen,
               const uint8_t *packet, int packet_len, int count, uint16_t first_seq, int do_send)
{
    uint8_t buf[IEUM_BUF];
    int i, sent = 0;
    uint16_t seq = first_seq;
    if (packet_len < 12 || packet_len > IEUM_BUF - 32)
        return -1;
    for (i = 0; i < count; i++) {
        int len = packet_len;
        memcpy(buf, packet, (size_t)packet_len);
        buf[2] = (uint8_t)(seq >> 8);
        buf[3] = (uint8_t)seq;
        seq++;
        if (protect(srtp, buf, &len) != 0)
            continue;
        if (!do_send)
            sent++;
        else if (sendto(fd, buf, (size_t)len, MSG_DONTWAIT, (const struct sockaddr *)addr, (socklen_t)addrlen) >= 0)
            sent++;
    }
    return sent;
}
