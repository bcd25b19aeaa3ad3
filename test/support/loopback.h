// Sockets on 127.0.0.1 for tests that stand up a server of their own (a fake PostgreSQL, an
// openssl s_server): the kernel picks a free port, so parallel runs never collide.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sdp::testing {

// A TCP socket bound to 127.0.0.1 on a port the kernel chose (in *port) and listening, or -1.
inline int ListenOnLoopback(int* port, int backlog = 4) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::listen(s, backlog) != 0) {
    ::close(s);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return s;
}

// A port on 127.0.0.1 that was free a moment ago, for a server started as another process.
inline int FreeLoopbackPort() {
  int port = 0;
  const int s = ListenOnLoopback(&port);
  if (s >= 0) ::close(s);
  return port;
}

// Whether something accepts connections on 127.0.0.1:port (a server started, still up).
inline bool AcceptsOnLoopback(int port) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(s);
  return ok;
}

}  // namespace sdp::testing
