// cpp-httplib listeners for the JSON services: requests are handed to the service as a
// ServiceRequest (the body as a view), the service answers, nothing else happens here (no body,
// header or key is ever logged).
#include "agent/json/json_http.h"

#include <httplib.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "agent/support/log.h"
#include "agent/support/signals.h"
#include "common/atomic_file.h"

namespace sdp {
namespace {

// The body is moved, not copied (set_content copies: a bulk answer is megabytes).
void Answer(ServiceResponse r, httplib::Response* res) {
  res->status = r.status;
  res->body = std::move(r.body);
  res->set_header("Content-Type", r.content_type);
  if (r.retry_after > 0) res->set_header("Retry-After", std::to_string(r.retry_after));
  res->set_header("Cache-Control", "no-store");
  res->set_header("X-Content-Type-Options", "nosniff");
}

void Install(httplib::Server* server, JsonService* service, JsonServiceRole role,
             size_t max_body_bytes, int threads) {
  // One byte over the service's limit reaches the service, which answers 413 with a problem
  // document; anything larger is cut off by the library, whose 413 the error handler dresses.
  server->set_payload_max_length(max_body_bytes + 1);
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_read_timeout(10, 0);
  server->set_write_timeout(10, 0);
  const auto handle = [service, role](const httplib::Request& req, httplib::Response& res) {
    ServiceRequest r;
    r.method = req.method;
    r.path = req.path;
    r.has_api_key = req.has_header("X-API-Key");
    if (r.has_api_key) r.api_key = req.get_header_value("X-API-Key");
    r.body = req.body;
    Answer(service->Handle(role, r), &res);
  };
  const char* any = R"(/.*)";
  server->Get(any, handle);
  server->Post(any, handle);
  server->Delete(any, handle);
  server->Put(any, handle);
  server->Patch(any, handle);
  server->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* title = res.status == 413   ? "Payload Too Large"
                        : res.status == 400 ? "Bad Request"
                        : res.status == 404 ? "Not Found"
                                            : "Error";
    Answer(JsonService::Problem(res.status, title, "refused by the HTTP layer"), &res);
  });
}

}  // namespace

bool ServeJson(JsonService* service, const JsonHttpOptions& options, size_t max_body_bytes,
               std::string* err) {
  // A bulk request's body and answer are megabytes each. Above glibc's mmap threshold every such
  // buffer is a fresh mapping whose pages fault in on first touch and go back to the kernel when
  // freed: measured, a sixth of the bulk endpoint's CPU was those page faults. Buffers up to the
  // body limit stay in the heap and are reused. (Freed heap is no more exposed than live heap:
  // the agent runs without core dumps, secret_env.cc.)
  const size_t keep = std::max<size_t>(max_body_bytes * 2, size_t{64} << 20);
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min<size_t>(keep, size_t{1} << 30)));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<size_t>(keep * 2, size_t{1} << 30)));
  httplib::Server servers[2];
  const JsonServiceRole roles[2] = {JsonServiceRole::kPseudonymize,
                                    JsonServiceRole::kRepersonalize};
  const int wanted[2] = {options.pseudonymize_port, options.repersonalize_port};
  int ports[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    Install(&servers[i], service, roles[i], max_body_bytes, options.threads);
    if (wanted[i] == 0) {
      ports[i] = servers[i].bind_to_any_port(options.host);
    } else if (servers[i].bind_to_port(options.host, wanted[i])) {
      ports[i] = wanted[i];
    }
    if (ports[i] <= 0) {
      *err = "cannot listen on " + options.host + ":" + std::to_string(wanted[i]) +
             "; fix: choose another port (0 picks a free one)";
      return false;
    }
  }
  if (!options.port_file.empty()) {
    AtomicOutputFile file;
    const std::string text = "pseudonymize=" + std::to_string(ports[0]) +
                             "\nrepersonalize=" + std::to_string(ports[1]) + "\n";
    if (!file.Open(options.port_file, err, 0644) ||
        !file.sink()->Write(text.data(), text.size(), err) || !file.Commit(err)) {
      return false;
    }
  }
  std::thread threads[2];
  for (int i = 0; i < 2; ++i)
    threads[i] = std::thread([&servers, i] { servers[i].listen_after_bind(); });
  log::Event(log::Level::kInfo, "json_service_started", "",
             "\"pseudonymize_port\":" + std::to_string(ports[0]) +
                 ",\"repersonalize_port\":" + std::to_string(ports[1]));
  auto last_purge = std::chrono::steady_clock::now();
  while (!Interrupted()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    service->SetPeerRunning(JsonServiceRole::kPseudonymize, servers[0].is_running());
    service->SetPeerRunning(JsonServiceRole::kRepersonalize, servers[1].is_running());
    if (std::chrono::steady_clock::now() - last_purge > std::chrono::seconds(60)) {
      const uint64_t purged = service->PurgeExpired();
      if (purged > 0) {
        log::Event(log::Level::kInfo, "json_records_purged", "",
                   "\"records\":" + std::to_string(purged));
      }
      last_purge = std::chrono::steady_clock::now();
    }
  }
  for (auto& server : servers) server.stop();
  for (auto& thread : threads) thread.join();
  log::Event(log::Level::kInfo, "json_service_stopped");
  return true;
}

}  // namespace sdp
