# test/kernel/lib/send-hao.py — sends one UDP datagram carrying a Mobile IPv6 Home Address destination option
# (RFC 6275 6.3), as a mobile node away from home would, so that the receiver's `proto hao mode ro` state handles it
# (used by test/kernel/report-event.test.ts and test/fixtures/xfrm/capture-kernel.sh report; run as root in a netns).
#   send-hao.py COA HOA DST SPORT DPORT     prints the option header it set (after the next-header byte) in hex
# A raw socket: the option goes in through IPV6_DSTOPTS, and the UDP checksum is computed over the home address,
# which the receiver swaps into the source (exthdrs.c ipv6_dest_hao) before UDP checks it.
import socket, struct, sys

# The destination options header after its next-header byte: hdrlen 2 (24 bytes), PadN(2), then the HAO TLV
# (type 201, length 16) at offset 6 (alignment 8n+6).
HEAD = bytes([2, 1, 2, 0, 0, 201, 16])

coa, hoa_s, dst_s, sport, dport = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_UDP)
s.bind((coa, 0))
hoa = socket.inet_pton(socket.AF_INET6, hoa_s)
dst = socket.inet_pton(socket.AF_INET6, dst_s)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0]) + HEAD + hoa)
u = struct.pack('!HHHH', sport, dport, 9, 0) + b'x'
ps = hoa + dst + struct.pack('!IxxxB', len(u), socket.IPPROTO_UDP) + u + b'\0'
c = sum(struct.unpack('!%dH' % (len(ps) // 2), ps))
while c >> 16:
    c = (c >> 16) + (c & 0xffff)
s.sendto(u[:6] + struct.pack('!H', (~c & 0xffff) or 0xffff) + u[8:], (dst_s, 0))
print(HEAD.hex())
