/* scripts/bench/raw-loader.c — the bench's stand-in for "the kernel's limit": builds N
 * XFRM_MSG_NEWPOLICY (or, with `sa`, XFRM_MSG_NEWSA: ESP transport, cbc(aes) 128 + hmac(sha1) 160, the
 * shapes of the bench's setkey and ip inputs) messages in C and sends them to NETLINK_XFRM in large
 * batches, acknowledging only the last message of each batch; or (`dump sa|policy`) dumps a table and
 * counts the entries without decoding them. No parsing, no formatting: what remains is the kernel's cost.
 * usage: raw-loader N [batch-bytes] | raw-loader sa N [batch-bytes] | raw-loader dump sa|policy
 * (run inside the target netns: ip netns exec NS raw-loader ...) */
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NLA_ALIGN4(x) (((x) + 3) & ~3)

static size_t put_algo(char *at, unsigned short type, const char *name, unsigned bits) {
  struct nlattr *na = (struct nlattr *)at;
  struct xfrm_algo *a = (struct xfrm_algo *)(na + 1);
  na->nla_len = sizeof(struct nlattr) + sizeof(struct xfrm_algo) + bits / 8;
  na->nla_type = type;
  strncpy(a->alg_name, name, sizeof a->alg_name - 1);
  a->alg_key_len = bits;
  for (unsigned k = 0; k < bits / 8; k++) a->alg_key[k] = (unsigned char)(0x11 * k);
  return NLA_ALIGN4(na->nla_len);
}

/* One XFRM_MSG_NEWSA for SA number i (SPI 0x1000 + i, 10.1.0.1 -> 10.2.0.0 + i); returns its length. */
static size_t build_sa(char *m, long i, unsigned seq) {
  struct nlmsghdr *h = (struct nlmsghdr *)m;
  struct xfrm_usersa_info *p = NLMSG_DATA(h);
  memset(m, 0, 512);
  p->id.daddr.a4 = htonl(0x0a020000u + (unsigned)i);
  p->saddr.a4 = htonl(0x0a010001u);
  p->id.spi = htonl(0x1000u + (unsigned)i);
  p->id.proto = IPPROTO_ESP;
  p->family = AF_INET;
  p->mode = XFRM_MODE_TRANSPORT;
  p->lft.soft_byte_limit = p->lft.hard_byte_limit = XFRM_INF;
  p->lft.soft_packet_limit = p->lft.hard_packet_limit = XFRM_INF;
  size_t len = NLMSG_LENGTH(sizeof *p);
  len = NLMSG_ALIGN(len);
  len += put_algo(m + len, XFRMA_ALG_CRYPT, "cbc(aes)", 128);
  len += put_algo(m + len, XFRMA_ALG_AUTH, "hmac(sha1)", 160);
  h->nlmsg_len = len;
  h->nlmsg_type = XFRM_MSG_NEWSA;
  h->nlmsg_flags = NLM_F_REQUEST;
  h->nlmsg_seq = seq;
  return len;
}

/* Dumps SAs or policies and counts the entries (the dump's cost without any decoding). */
static int dump(int fd, const char *what) {
  struct { struct nlmsghdr h; char pad[64]; } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = NLMSG_LENGTH(0);
  req.h.nlmsg_type = strcmp(what, "sa") == 0 ? XFRM_MSG_GETSA : XFRM_MSG_GETPOLICY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 1;
  if (send(fd, &req, req.h.nlmsg_len, 0) < 0) { perror("send"); return 1; }
  static char rbuf[1 << 20];
  long entries = 0;
  for (;;) {
    ssize_t r = recv(fd, rbuf, sizeof rbuf, 0);
    if (r < 0) { perror("recv"); return 1; }
    for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, r); h = NLMSG_NEXT(h, r)) {
      if (h->nlmsg_type == NLMSG_DONE) { fprintf(stderr, "raw-loader: dumped %ld entries\n", entries); return 0; }
      if (h->nlmsg_type == NLMSG_ERROR) { fprintf(stderr, "raw-loader: dump failed\n"); return 1; }
      entries++;
    }
  }
}

int main(int argc, char **argv) {
  int sas = argc > 1 && strcmp(argv[1], "sa") == 0;
  int dumping = argc > 2 && strcmp(argv[1], "dump") == 0;
  if (sas || dumping) { argv++; argc--; }
  long n = argc > 1 ? atol(argv[1]) : 100000;
  size_t batch = argc > 2 ? (size_t)atol(argv[2]) : (1 << 20);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM);
  if (fd < 0) { perror("socket"); return 1; }
  int sz = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("bind"); return 1; }
  if (dumping) return dump(fd, argv[1]);
  size_t msglen = NLMSG_LENGTH(sizeof(struct xfrm_userpolicy_info)) + NLA_ALIGN4(sizeof(struct nlattr) + sizeof(struct xfrm_user_tmpl));
  if (sas) msglen = 512; /* upper bound of one NEWSA; the real length is set per message */
  char *buf = malloc(batch + msglen);
  char rbuf[65536];
  long failures = 0, i = 0;
  unsigned seq = 1;
  while (i < n) {
    size_t off = 0;
    struct nlmsghdr *last = NULL;
    while (i < n && off + msglen <= batch) {
      struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
      if (sas) { last = h; off += build_sa(buf + off, i, seq++); i++; continue; }
      memset(h, 0, msglen);
      h->nlmsg_len = msglen;
      h->nlmsg_type = XFRM_MSG_NEWPOLICY;
      h->nlmsg_flags = NLM_F_REQUEST;
      h->nlmsg_seq = seq++;
      struct xfrm_userpolicy_info *p = NLMSG_DATA(h);
      unsigned a = 0x0a000000u + (unsigned)i, b = 0x0b000000u + (unsigned)i;
      p->sel.family = AF_INET;
      p->sel.saddr.a4 = htonl(a);
      p->sel.daddr.a4 = htonl(b);
      p->sel.prefixlen_s = p->sel.prefixlen_d = 32;
      p->lft.soft_byte_limit = p->lft.hard_byte_limit = XFRM_INF;
      p->lft.soft_packet_limit = p->lft.hard_packet_limit = XFRM_INF;
      p->priority = 0x80000000u;
      p->dir = XFRM_POLICY_OUT;
      p->action = XFRM_POLICY_ALLOW;
      struct nlattr *na = (struct nlattr *)((char *)p + NLA_ALIGN4(sizeof *p));
      na->nla_len = sizeof(struct nlattr) + sizeof(struct xfrm_user_tmpl);
      na->nla_type = XFRMA_TMPL;
      struct xfrm_user_tmpl *t = (struct xfrm_user_tmpl *)(na + 1);
      t->id.proto = IPPROTO_ESP;
      t->family = AF_INET;
      t->mode = XFRM_MODE_TRANSPORT;
      t->aalgos = t->ealgos = t->calgos = ~0u;
      last = h;
      off += msglen;
      i++;
    }
    last->nlmsg_flags |= NLM_F_ACK;
    if (send(fd, buf, off, 0) < 0) { perror("send"); return 1; }
    for (int done = 0; !done;) {
      ssize_t r = recv(fd, rbuf, sizeof rbuf, 0);
      if (r < 0) { perror("recv"); return 1; }
      for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, r); h = NLMSG_NEXT(h, r)) {
        if (h->nlmsg_type != NLMSG_ERROR) continue;
        struct nlmsgerr *e = NLMSG_DATA(h);
        if (e->error) failures++;
        if (h->nlmsg_seq == last->nlmsg_seq) done = 1;
      }
    }
  }
  fprintf(stderr, "raw-loader: %ld %s sent, %ld failed\n", n, sas ? "SAs" : "policies", failures);
  return failures ? 1 : 0;
}
