/* scripts/bench/raw-loader.c — the bench's stand-in for "the kernel's limit": builds N
 * XFRM_MSG_NEWPOLICY messages (the same selector/template shapes as the bench's setkey and ip inputs)
 * in C and sends them to NETLINK_XFRM in large batches, acknowledging only the last message of each
 * batch. No parsing, no formatting: what remains is the kernel's own cost.
 * usage: raw-loader N [batch-bytes]   (run inside the target netns: ip netns exec NS raw-loader N) */
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NLA_ALIGN4(x) (((x) + 3) & ~3)

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  size_t batch = argc > 2 ? (size_t)atol(argv[2]) : (1 << 20);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM);
  if (fd < 0) { perror("socket"); return 1; }
  int sz = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("bind"); return 1; }
  size_t msglen = NLMSG_LENGTH(sizeof(struct xfrm_userpolicy_info)) + NLA_ALIGN4(sizeof(struct nlattr) + sizeof(struct xfrm_user_tmpl));
  char *buf = malloc(batch + msglen);
  char rbuf[65536];
  long failures = 0, i = 0;
  unsigned seq = 1;
  while (i < n) {
    size_t off = 0;
    struct nlmsghdr *last = NULL;
    while (i < n && off + msglen <= batch) {
      struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
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
  fprintf(stderr, "raw-loader: %ld policies sent, %ld failed\n", n, failures);
  return failures ? 1 : 0;
}
