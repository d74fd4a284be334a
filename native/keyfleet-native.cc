// native/keyfleet-native.cc — the native socket layer (layer: native). Owns raw AF_NETLINK/NETLINK_XFRM and
// PF_KEY_V2 sockets as file descriptors: open (optionally inside a network namespace), send (one sendmsg, or
// one datagram per buffer with sendmmsg), a uv_poll readiness loop that hands datagrams to JS as Buffers,
// buffer sizes and multicast membership. It moves bytes and nothing else: no message knowledge lives here.
// The JS surface is typed once in src/native/addon-types.ts; src/native/index.ts validates arguments.

#include <napi.h>
#include <uv.h>

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/pfkeyv2.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

// One receive buffer per socket, big enough for any netlink dump skb (the kernel caps them near 32 KiB)
// and any PF_KEY message (sadb_msg_len is 16 bits of 8-byte units: < 512 KiB).
constexpr size_t kRecvBufSize = 1 << 20;
// Per-tick bounds, so one busy socket cannot starve the event loop.
constexpr uint32_t kMaxTickDatagrams = 256;
constexpr size_t kMaxTickBytes = 8 << 20;
// How long a send waits for POLLOUT before giving up with ETIMEDOUT.
constexpr int kSendTimeoutMs = 5000;
// sendmmsg(2) handles at most UIO_MAXIOV messages per call.
constexpr unsigned kMaxMmsg = 1024;

// ---------------------------------------------------------------------------------------------- RAII

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    Reset(o.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int Get() const { return fd_; }
  bool Valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // close(2) is not retried on EINTR: on Linux the fd is released either way.
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A uv_poll_t is freed only in its close callback (libuv owns it until then). uv_close also stops polling
// and removes the fd from epoll (src/unix/poll.c), so the fd may be closed right after.
struct PollCloser {
  void operator()(uv_poll_t* h) const {
    h->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* hh) { delete reinterpret_cast<uv_poll_t*>(hh); });
  }
};
using PollPtr = std::unique_ptr<uv_poll_t, PollCloser>;

// -------------------------------------------------------------------------------------------- errors

// Works with both strerror_r flavours (GNU returns char*, XSI returns int).
inline const char* StrerrorResult(int r, const char* buf) { return r == 0 ? buf : "Unknown error"; }
inline const char* StrerrorResult(const char* r, const char*) { return r; }

std::string ErrName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* n = strerrorname_np(err)) return n;
#endif
  char buf[64];
  uv_err_name_r(-err, buf, sizeof buf);  // libuv codes are -errno on Unix
  return buf;
}

// A Node-shaped system error: message `syscall[ 'path']: strerror (CODE)[detail]`, errno negative (as Node
// and libuv report it), code, syscall, path.
Napi::Error SysError(Napi::Env env, int err, const char* syscall, const std::string& path = {},
                     const std::string& detail = {}) {
  char buf[256];
  std::string code = ErrName(err);
  std::string msg = syscall;
  if (!path.empty()) msg += " '" + path + "'";
  msg += std::string(": ") + StrerrorResult(strerror_r(err, buf, sizeof buf), buf) + " (" + code + ")" + detail;
  Napi::Error e = Napi::Error::New(env, msg);
  Napi::Object o = e.Value();
  o.Set("errno", Napi::Number::New(env, -err));
  o.Set("code", Napi::String::New(env, code));
  o.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) o.Set("path", Napi::String::New(env, path));
  return e;
}

// poll(2) one fd, retrying on EINTR with the remaining time. Returns >0 ready (POLLERR/POLLHUP count: the
// next syscall reports them), 0 on timeout, -errno on failure. timeoutMs < 0 waits forever.
int WaitFd(int fd, short events, int timeoutMs) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeoutMs, 0));
  for (;;) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, timeoutMs);
    if (r >= 0) return r;
    if (errno != EINTR) return -errno;
    if (timeoutMs >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      timeoutMs = left > 0 ? static_cast<int>(left) : 0;
    }
  }
}

// ------------------------------------------------------------------------------------------- the socket

struct PendingOpen {  // handed from open() to the constructor, which JS cannot call on its own
  UniqueFd fd;
  uint32_t portId = 0;
};

struct AddonData {
  Napi::FunctionReference socketCtor;
  PendingOpen* pending = nullptr;
};

class Socket : public Napi::ObjectWrap<Socket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeSocket",
                       {
                           InstanceMethod<&Socket::Send>("send"),
                           InstanceMethod<&Socket::SendEach>("sendEach"),
                           InstanceMethod<&Socket::SendPacked>("sendPacked"),
                           InstanceMethod<&Socket::RecvPacked>("recvPacked"),
                           InstanceMethod<&Socket::AddMembership>("addMembership"),
                           InstanceMethod<&Socket::DropMembership>("dropMembership"),
                           InstanceMethod<&Socket::ListenAllNsid>("listenAllNsid"),
                           InstanceMethod<&Socket::SetBuffers>("setBuffers"),
                           InstanceMethod<&Socket::GetBuffers>("getBuffers"),
                           InstanceMethod<&Socket::Start>("start"),
                           InstanceMethod<&Socket::Stop>("stop"),
                           InstanceMethod<&Socket::RecvSync>("recvSync"),
                           InstanceMethod<&Socket::RefHandle>("ref"),
                           InstanceMethod<&Socket::UnrefHandle>("unref"),
                           InstanceMethod<&Socket::Close>("close"),
                           InstanceAccessor<&Socket::FdGetter>("fd"),
                           InstanceAccessor<&Socket::PortIdGetter>("portId"),
                       });
  }

  explicit Socket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Socket>(info) {
    AddonData* d = info.Env().GetInstanceData<AddonData>();
    if (d == nullptr || d->pending == nullptr) throw Napi::TypeError::New(info.Env(), "use open() to create a socket");
    fd_ = std::move(d->pending->fd);
    portId_ = d->pending->portId;
    d->pending = nullptr;
  }

  // Runs from GC, or at environment teardown (a polling socket holds a strong reference to itself, so only
  // teardown can finalize one). Members release the poll handle first, then the fd.
  ~Socket() override {
    polling_ = false;
    poll_.reset();
    fd_.Reset();
  }

 private:
  // Throws EBADF (with the operation's syscall name) once the socket is closed.
  int RequireOpen(Napi::Env env, const char* syscall) {
    if (!fd_.Valid()) throw SysError(env, EBADF, syscall, {}, ", socket is closed");
    return fd_.Get();
  }

  static Napi::Buffer<uint8_t> BufferArg(Napi::Env env, const Napi::Value& v, const char* what) {
    if (!v.IsBuffer()) throw Napi::TypeError::New(env, std::string(what) + ": a Buffer or Uint8Array is expected");
    return v.As<Napi::Buffer<uint8_t>>();
  }

  static int IntArg(Napi::Env env, const Napi::Value& v, const char* what) {
    if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + ": a number is expected");
    return v.As<Napi::Number>().Int32Value();
  }

  // Waits for POLLOUT after EAGAIN; throws ETIMEDOUT (as `syscall`) when the socket stays full.
  static void WaitWritable(Napi::Env env, int fd, const char* syscall) {
    int w = WaitFd(fd, POLLOUT, kSendTimeoutMs);
    if (w == 0) throw SysError(env, ETIMEDOUT, syscall, {}, ", socket not writable for 5 s");
    if (w < 0) throw SysError(env, -w, "poll");
  }

  // send(buf): ONE sendmsg(2) of the whole buffer (netlink: many nlmsgs, all processed by the kernel).
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Buffer<uint8_t> buf = BufferArg(env, info[0], "send");
    int fd = RequireOpen(env, "sendmsg");
    iovec iov{buf.Data(), buf.Length()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    for (;;) {
      ssize_t r = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
      if (r >= 0) return Napi::Number::New(env, static_cast<double>(r));
      int e = errno;
      if (e == EINTR) continue;
      if (e != EAGAIN && e != EWOULDBLOCK) throw SysError(env, e, "sendmsg");
      WaitWritable(env, fd, "sendmsg");
    }
  }

  // sendEach(bufs): one datagram per buffer with sendmmsg(2). Returns the count sent; a failure after some
  // were sent throws an error whose `sent` property says how many went out.
  Napi::Value SendEach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "sendEach: an array of Buffers is expected");
    Napi::Array arr = info[0].As<Napi::Array>();
    const uint32_t n = arr.Length();
    std::vector<iovec> iovs(n);
    std::vector<mmsghdr> msgs(n);
    for (uint32_t i = 0; i < n; i++) {
      Napi::Buffer<uint8_t> b = BufferArg(env, arr.Get(i), "sendEach");
      iovs[i] = iovec{b.Data(), b.Length()};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int fd = RequireOpen(env, "sendmmsg");
    return Napi::Number::New(env, SendMmsg(env, fd, msgs));
  }

  // sendPacked(buf, lengths): the datagrams lie back to back in one buffer, lengths[i] bytes each; one
  // sendmmsg(2) per 1024 of them (no Buffer per datagram on the JS side). Same result and errors as sendEach.
  Napi::Value SendPacked(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Buffer<uint8_t> buf = BufferArg(env, info[0], "sendPacked");
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
      throw Napi::TypeError::New(env, "sendPacked: a Uint32Array of lengths is expected");
    Napi::Uint32Array lens = info[1].As<Napi::Uint32Array>();
    const uint32_t n = static_cast<uint32_t>(lens.ElementLength());
    std::vector<iovec> iovs(n);
    std::vector<mmsghdr> msgs(n);
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (lens[i] > buf.Length() - off) throw Napi::RangeError::New(env, "sendPacked: lengths exceed the buffer");
      iovs[i] = iovec{buf.Data() + off, lens[i]};
      off += lens[i];
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int fd = RequireOpen(env, "sendmmsg");
    return Napi::Number::New(env, SendMmsg(env, fd, msgs));
  }

  // The sendmmsg(2) loop of sendEach and sendPacked: waits for room on EAGAIN; a failure after some went out carries `sent`.
  static uint32_t SendMmsg(Napi::Env env, int fd, std::vector<mmsghdr>& msgs) {
    const uint32_t n = static_cast<uint32_t>(msgs.size());
    uint32_t sent = 0;
    auto fail = [&](int e) {
      Napi::Error err = SysError(env, e, "sendmmsg");
      err.Value().Set("sent", Napi::Number::New(env, sent));
      return err;
    };
    while (sent < n) {
      unsigned chunk = std::min<uint32_t>(n - sent, kMaxMmsg);
      int r = ::sendmmsg(fd, &msgs[sent], chunk, MSG_NOSIGNAL);
      if (r > 0) {
        sent += static_cast<uint32_t>(r);
        if (static_cast<unsigned>(r) < chunk) {
          // A datagram failed after others went out: the kernel parks the error in sk_err (net/socket.c
          // __sys_sendmmsg); read and clear it so it is not reported later by an unrelated receive.
          int soerr = 0;
          socklen_t len = sizeof soerr;
          if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) throw fail(soerr);
        }
        continue;
      }
      int e = r == 0 ? EAGAIN : errno;
      if (e == EINTR) continue;
      if (e != EAGAIN && e != EWOULDBLOCK) throw fail(e);
      try {
        WaitWritable(env, fd, "sendmmsg");
      } catch (Napi::Error& err) {
        err.Value().Set("sent", Napi::Number::New(env, sent));
        throw;
      }
    }
    return sent;
  }

  void Membership(const Napi::CallbackInfo& info, int opt) {
    Napi::Env env = info.Env();
    int group = IntArg(env, info[0], opt == NETLINK_ADD_MEMBERSHIP ? "addMembership" : "dropMembership");
    int fd = RequireOpen(env, "setsockopt");
    if (::setsockopt(fd, SOL_NETLINK, opt, &group, sizeof group) != 0) throw SysError(env, errno, "setsockopt");
  }
  Napi::Value AddMembership(const Napi::CallbackInfo& info) {
    Membership(info, NETLINK_ADD_MEMBERSHIP);
    return info.Env().Undefined();
  }
  Napi::Value DropMembership(const Napi::CallbackInfo& info) {
    Membership(info, NETLINK_DROP_MEMBERSHIP);
    return info.Env().Undefined();
  }

  // listenAllNsid(): NETLINK_LISTEN_ALL_NSID (linux/netlink.h), as `ip monitor all-nsid` sets it. The kernel then
  // also delivers other namespaces' multicasts (those this netns has an nsid for) and tags each with a
  // SOL_NETLINK/NETLINK_LISTEN_ALL_NSID cmsg (net/netlink/af_netlink.c netlink_cmsg_listen_all_nsid);
  // from here on every received Buffer carries `nsid`: that id, or -1 without the cmsg (own netns).
  Napi::Value ListenAllNsid(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = RequireOpen(env, "setsockopt");
    int one = 1;
    if (::setsockopt(fd, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &one, sizeof one) != 0)
      throw SysError(env, errno, "setsockopt");
    allNsid_ = true;
    return env.Undefined();
  }

  // The nsid of the datagram `msg` just received (lib/libnetlink.c rtnl_listen: -1 unless the cmsg is there).
  static int32_t NsidOf(msghdr& msg) {
    int32_t nsid = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_LISTEN_ALL_NSID &&
          c->cmsg_len == CMSG_LEN(sizeof(int32_t)))
        std::memcpy(&nsid, CMSG_DATA(c), sizeof nsid);
    return nsid;
  }

  // setBuffers(sndbuf, rcvbuf): a negative size leaves that buffer alone. The *FORCE options pass
  // net.core.{w,r}mem_max but need CAP_NET_ADMIN; without it fall back to the capped ones.
  Napi::Value SetBuffers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int snd = IntArg(env, info[0], "setBuffers");
    int rcv = IntArg(env, info[1], "setBuffers");
    int fd = RequireOpen(env, "setsockopt");
    auto set = [&](int force, int plain, int size) {
      if (size < 0) return;
      if (::setsockopt(fd, SOL_SOCKET, force, &size, sizeof size) == 0) return;
      if (errno != EPERM) throw SysError(env, errno, "setsockopt");
      if (::setsockopt(fd, SOL_SOCKET, plain, &size, sizeof size) != 0) throw SysError(env, errno, "setsockopt");
    };
    set(SO_SNDBUFFORCE, SO_SNDBUF, snd);
    set(SO_RCVBUFFORCE, SO_RCVBUF, rcv);
    return env.Undefined();
  }

  // getBuffers(): what the kernel applied (it doubles the requested value for bookkeeping overhead).
  Napi::Value GetBuffers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = RequireOpen(env, "getsockopt");
    int snd = 0, rcv = 0;
    socklen_t len = sizeof snd;
    if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, &len) != 0) throw SysError(env, errno, "getsockopt");
    len = sizeof rcv;
    if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &len) != 0) throw SysError(env, errno, "getsockopt");
    Napi::Object o = Napi::Object::New(env);
    o.Set("sndbuf", Napi::Number::New(env, snd));
    o.Set("rcvbuf", Napi::Number::New(env, rcv));
    return o;
  }

  // ------------------------------------------------------------------------------------------- receive

  struct RecvErr {
    int err = 0;
    std::string detail;
  };

  // Reads datagrams into `out` until EAGAIN or the per-tick bound, each copied into an exactly-sized Buffer.
  // Returns the error that ended the batch (err 0: EAGAIN or bound reached).
  RecvErr ReadBatch(Napi::Env env, std::vector<napi_value>& out) {
    RecvErr res;
    if (!rbuf_) rbuf_.reset(new uint8_t[kRecvBufSize]);
    size_t bytes = 0;
    while (fd_.Valid() && out.size() < kMaxTickDatagrams && bytes < kMaxTickBytes) {
      iovec iov{rbuf_.get(), kRecvBufSize};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int32_t)) * 4];
      if (allNsid_) {  // reset per call: recvmsg shrinks msg_controllen to what it wrote
        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof cbuf;
      }
      // MSG_TRUNC makes netlink and af_key return the datagram's real length (net/netlink/af_netlink.c,
      // net/key/af_key.c), so truncation is detected and reported instead of silently cut.
      ssize_t r = ::recvmsg(fd_.Get(), &msg, MSG_TRUNC | MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) res.err = errno;
        return res;
      }
      if ((msg.msg_flags & MSG_TRUNC) || static_cast<size_t>(r) > kRecvBufSize) {
        res.err = EMSGSIZE;
        res.detail = ", a " + std::to_string(r) + "-byte datagram was truncated to the " +
                     std::to_string(kRecvBufSize) + "-byte receive buffer and dropped";
        return res;
      }
      Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::Copy(env, rbuf_.get(), static_cast<size_t>(r));
      if (allNsid_) b.Set("nsid", Napi::Number::New(env, NsidOf(msg)));
      out.push_back(b);
      bytes += static_cast<size_t>(r);
    }
    return res;
  }

  static Napi::Array ToArray(Napi::Env env, const std::vector<napi_value>& v) {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), v[i]);
    return a;
  }

  // recvSync(timeoutMs): poll for POLLIN, then one batch. Empty array on timeout. An error met after some
  // datagrams were read is kept and thrown by the next call, so no datagram and no error is lost.
  Napi::Value RecvSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int timeoutMs = IntArg(env, info[0], "recvSync");
    int fd = RequireOpen(env, "recvmsg");
    if (pending_.err != 0) {
      RecvErr e = std::move(pending_);
      pending_ = RecvErr{};
      throw SysError(env, e.err, "recvmsg", {}, e.detail);
    }
    int w = WaitFd(fd, POLLIN, timeoutMs);
    if (w < 0) throw SysError(env, -w, "poll");
    std::vector<napi_value> out;
    if (w == 0) return ToArray(env, out);
    RecvErr e = ReadBatch(env, out);
    if (e.err != 0) {
      if (out.empty()) throw SysError(env, e.err, "recvmsg", {}, e.detail);
      pending_ = std::move(e);
    }
    return ToArray(env, out);
  }

  // recvPacked(maxBytes): without waiting, reads the datagrams queued now (until EAGAIN or about maxBytes)
  // into ONE Buffer, back to back, and returns [buffer, Uint32Array of their lengths]; both empty when none
  // is queued. For replies the kernel queued inside our own send (af_key answers in sendmsg's context), so
  // a bulk load does not pay a Buffer and a callback per reply. Errors as recvSync (kept for the next call
  // when some datagrams were read).
  Napi::Value RecvPacked(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const size_t maxBytes = static_cast<size_t>(std::max(IntArg(env, info[0], "recvPacked"), 1));
    int fd = RequireOpen(env, "recvmsg");
    if (pending_.err != 0) {
      RecvErr e = std::move(pending_);
      pending_ = RecvErr{};
      throw SysError(env, e.err, "recvmsg", {}, e.detail);
    }
    if (!rbuf_) rbuf_.reset(new uint8_t[kRecvBufSize]);
    std::vector<uint8_t> data;
    std::vector<uint32_t> lens;
    RecvErr res;
    while (data.size() < maxBytes) {
      iovec iov{rbuf_.get(), kRecvBufSize};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      ssize_t r = ::recvmsg(fd, &msg, MSG_TRUNC | MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) res.err = errno;
        break;
      }
      if ((msg.msg_flags & MSG_TRUNC) || static_cast<size_t>(r) > kRecvBufSize) {  // as ReadBatch
        res.err = EMSGSIZE;
        res.detail = ", a " + std::to_string(r) + "-byte datagram was truncated and dropped";
        break;
      }
      data.insert(data.end(), rbuf_.get(), rbuf_.get() + r);
      lens.push_back(static_cast<uint32_t>(r));
    }
    if (res.err != 0) {
      if (lens.empty()) throw SysError(env, res.err, "recvmsg", {}, res.detail);
      pending_ = std::move(res);
    }
    Napi::Uint32Array l = Napi::Uint32Array::New(env, lens.size());
    if (!lens.empty()) std::memcpy(l.Data(), lens.data(), lens.size() * sizeof(uint32_t));
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Napi::Buffer<uint8_t>::Copy(env, data.data(), data.size()));
    out.Set(1u, l);
    return out;
  }

  // start(onData, onError): poll for readability on the loop of this environment. Replaces the callbacks
  // when already started. While polling, the wrapper holds a strong reference to itself.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "start(onData, onError): two functions are expected");
    int fd = RequireOpen(env, "uv_poll_start");
    if (!poll_) {
      uv_loop_t* loop = nullptr;
      if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
        throw Napi::Error::New(env, "start: no libuv loop for this environment");
      auto* h = new uv_poll_t;
      int r = uv_poll_init(loop, h, fd);
      if (r != 0) {
        delete h;  // never initialised, so not uv_close()d
        throw SysError(env, -r, "uv_poll_init");
      }
      h->data = this;
      poll_.reset(h);
      if (!refed_) uv_unref(reinterpret_cast<uv_handle_t*>(h));
    }
    if (!asyncCtx_) asyncCtx_ = std::make_unique<Napi::AsyncContext>(env, "KeyfleetNativeSocket", Value());
    onData_ = Napi::Persistent(info[0].As<Napi::Function>());
    onError_ = Napi::Persistent(info[1].As<Napi::Function>());
    if (!polling_) {
      int r = uv_poll_start(poll_.get(), UV_READABLE, &Socket::OnPoll);
      if (r != 0) throw SysError(env, -r, "uv_poll_start");
      polling_ = true;
      Ref();
    }
    return env.Undefined();
  }

  void StopPolling() {
    if (!polling_) return;
    polling_ = false;
    if (poll_) uv_poll_stop(poll_.get());
    onData_.Reset();
    onError_.Reset();
    Unref();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopPolling();
    return info.Env().Undefined();
  }

  // close(): idempotent, and safe inside onData/onError (the poll callback re-checks state after each call).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    StopPolling();
    poll_.reset();
    fd_.Reset();
    if (depth_ == 0) asyncCtx_.reset();
    return info.Env().Undefined();
  }

  Napi::Value RefHandle(const Napi::CallbackInfo& info) {
    refed_ = true;
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_.get()));
    return info.Env().Undefined();
  }
  Napi::Value UnrefHandle(const Napi::CallbackInfo& info) {
    refed_ = false;
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_.get()));
    return info.Env().Undefined();
  }

  Napi::Value FdGetter(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_.Get()); }
  Napi::Value PortIdGetter(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), portId_); }

  static void OnPoll(uv_poll_t* h, int status, int /*events*/) {
    auto* self = static_cast<Socket*>(h->data);
    if (self != nullptr) self->OnReadable(status);
  }

  // Calls a JS callback through the socket's async context. A throw from user code becomes an
  // 'uncaughtException' (as for any event callback), never a C++ exception escaping into libuv.
  void Deliver(Napi::Env env, Napi::Object self, Napi::FunctionReference& ref, napi_value arg) {
    if (!polling_ || ref.IsEmpty()) return;
    Napi::Function fn = ref.Value();
    try {
      fn.MakeCallback(self, {arg}, *asyncCtx_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }

  void OnReadable(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object self = Value();  // keeps the wrapper reachable while JS runs below
    depth_++;
    try {
      RecvErr err = std::move(pending_);
      pending_ = RecvErr{};
      const char* syscall = "recvmsg";
      bool read = true;
      if (status < 0) {
        // libuv stops the handle on POLLERR and reports UV_EBADF (src/unix/poll.c). On a live socket
        // POLLERR means sk_err is set (netlink: ENOBUFS after a receive overrun); SO_ERROR reads and
        // clears it, and polling resumes.
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (fd_.Valid() && ::getsockopt(fd_.Get(), SOL_SOCKET, SO_ERROR, &soerr, &len) == 0) {
          if (err.err == 0) err.err = soerr;
          int r = uv_poll_start(poll_.get(), UV_READABLE, &Socket::OnPoll);
          if (r != 0 && err.err == 0) err.err = -r;
        } else {
          err.err = fd_.Valid() ? errno : EBADF;
          syscall = "poll";
          read = false;
          StopPolling();  // the fd itself is gone: polling again would spin
        }
      }
      std::vector<napi_value> batch;
      if (read && err.err == 0) err = ReadBatch(env, batch);
      if (!batch.empty()) Deliver(env, self, onData_, ToArray(env, batch));
      if (err.err != 0) {
        if (polling_) {
          Deliver(env, self, onError_, SysError(env, err.err, syscall, {}, err.detail).Value());
        } else if (fd_.Valid()) {
          pending_ = std::move(err);  // stopped inside onData: keep it for recvSync or the next start
        }
      }
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    } catch (const std::exception& e) {
      napi_fatal_exception(env, Napi::Error::New(env, std::string("keyfleet_native: ") + e.what()).Value());
    }
    depth_--;
    if (!fd_.Valid() && depth_ == 0) asyncCtx_.reset();
  }

  UniqueFd fd_;
  PollPtr poll_;  // declared after fd_: destroyed (uv_close, epoll removal) before the fd is closed
  uint32_t portId_ = 0;
  bool polling_ = false;
  bool refed_ = true;
  bool allNsid_ = false;  // listenAllNsid() was called: tag each received Buffer with its nsid
  int depth_ = 0;  // > 0 while OnReadable runs JS
  Napi::FunctionReference onData_;
  Napi::FunctionReference onError_;
  std::unique_ptr<Napi::AsyncContext> asyncCtx_;
  std::unique_ptr<uint8_t[]> rbuf_;
  RecvErr pending_;
};

// ------------------------------------------------------------------------------------------------ open

// Creates the socket inside the network namespace `nsFd` on a short-lived helper thread: setns(2) with
// CLONE_NEWNET changes only the calling thread, so the JS thread never leaves its own namespace and there
// is no "switch back" step that could fail. The socket keeps the namespace it was created in.
int SocketInNetns(Napi::Env env, int nsFd, int family, int protocol) {
  int fd = -1, err = 0;
  const char* failed = nullptr;
  try {
    std::thread t([&] {
      if (::setns(nsFd, CLONE_NEWNET) != 0) {
        err = errno;
        failed = "setns";
        return;
      }
      fd = ::socket(family, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
      if (fd < 0) {
        err = errno;
        failed = "socket";
      }
    });
    t.join();
  } catch (const std::system_error& e) {
    throw SysError(env, e.code().value() ? e.code().value() : EAGAIN, "pthread_create");
  }
  if (failed != nullptr) throw SysError(env, err, failed);
  return fd;
}

// open(family, protocol, netns?): netns is NAME (/run/netns/NAME, as `ip netns` creates) or an absolute path.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "open(family, protocol, netns?): numbers are expected");
  const int family = info[0].As<Napi::Number>().Int32Value();
  const int protocol = info[1].As<Napi::Number>().Int32Value();

  PendingOpen p;
  if (info.Length() > 2 && info[2].IsString()) {
    std::string ns = info[2].As<Napi::String>().Utf8Value();
    std::string path = !ns.empty() && ns[0] == '/' ? ns : "/run/netns/" + ns;
    UniqueFd nsFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!nsFd.Valid()) throw SysError(env, errno, "open", path);
    p.fd.Reset(SocketInNetns(env, nsFd.Get(), family, protocol));
  } else if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
    throw Napi::TypeError::New(env, "open: netns must be a string");
  } else {
    p.fd.Reset(::socket(family, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol));
    if (!p.fd.Valid()) throw SysError(env, errno, "socket");
  }

  if (family == AF_NETLINK) {
    // nl_pid 0: the kernel picks a unique port id, read back with getsockname(2).
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    if (::bind(p.fd.Get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) throw SysError(env, errno, "bind");
    // Extended acks carry the kernel's error message; capped acks do not echo the request back
    // (include/uapi/linux/netlink.h). Kernels older than 4.3/4.12 lack them: ENOPROTOOPT is fine.
    for (int opt : {NETLINK_EXT_ACK, NETLINK_CAP_ACK}) {
      int one = 1;
      if (::setsockopt(p.fd.Get(), SOL_NETLINK, opt, &one, sizeof one) != 0 && errno != ENOPROTOOPT)
        throw SysError(env, errno, "setsockopt");
    }
    socklen_t len = sizeof sa;
    if (::getsockname(p.fd.Get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0)
      throw SysError(env, errno, "getsockname");
    p.portId = sa.nl_pid;
  }

  AddonData* d = env.GetInstanceData<AddonData>();
  d->pending = &p;
  try {
    Napi::Object o = d->socketCtor.New({});
    d->pending = nullptr;
    return o;
  } catch (...) {
    d->pending = nullptr;
    throw;
  }
}

// strerror(errno): the C library's text ("File exists"), which Node does not expose; setkey and ip print it.
Napi::Value Strerror(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "strerror(errno): a number is expected");
  char buf[256];
  int err = info[0].As<Napi::Number>().Int32Value();
  return Napi::String::New(env, StrerrorResult(strerror_r(err, buf, sizeof buf), buf));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* d = new AddonData();
  env.SetInstanceData<AddonData>(d);
  d->socketCtor = Napi::Persistent(Socket::Define(env));
  exports.Set("open", Napi::Function::New<Open>(env, "open"));
  exports.Set("strerror", Napi::Function::New<Strerror>(env, "strerror"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("AF_NETLINK", Napi::Number::New(env, AF_NETLINK));
  c.Set("NETLINK_XFRM", Napi::Number::New(env, NETLINK_XFRM));
  c.Set("PF_KEY", Napi::Number::New(env, PF_KEY));
  c.Set("PF_KEY_V2", Napi::Number::New(env, PF_KEY_V2));
  exports.Set("constants", c);
  return exports;
}

}  // namespace

NODE_API_MODULE(keyfleet_native, Init)
