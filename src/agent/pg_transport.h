// libpq implementation of ServerTransport (postgresql:// URLs).
#pragma once

#include <memory>

#include "transport.h"

namespace sdp {

std::unique_ptr<ServerTransport> NewPgTransport(const TransportOptions& options);

}  // namespace sdp
