// SPDX-License-Identifier: MIT
#include <afterwork/observe/request_metrics.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include <afterwork/http/response.hpp>

namespace afterwork {
namespace {

// Shared by the middleware and the handler; relaxed atomics: the counts are read one at a
// time and need no order with anything else.
struct Counters {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> errors{0};
};
using CountersPtr = std::shared_ptr<Counters>;

Task<Response> count_request(CountersPtr counters, Request& request, Next next) {
    counters->requests.fetch_add(1, std::memory_order_relaxed);
    try {
        Response response = co_await next(request);
        if (response.status >= 500) counters->errors.fetch_add(1, std::memory_order_relaxed);
        co_return response;
    } catch (...) {
        counters->errors.fetch_add(1, std::memory_order_relaxed);
        throw;
    }
}

Task<Response> show_metrics(CountersPtr counters, Request& request) {
    auto background = request.app().background_stats();
    co_return json_response({{"requests", counters->requests.load()},
                             {"errors", counters->errors.load()},
                             {"background_tasks",
                              {{"scheduled", background.scheduled},
                               {"succeeded", background.succeeded},
                               {"failed", background.failed},
                               {"dropped", background.dropped},
                               {"abandoned", background.abandoned},
                               {"pending", background.pending}}},
                             {"pid", static_cast<std::int64_t>(::getpid())}});
}

}  // namespace

void mount_request_metrics(App& app, std::string path) {
    auto counters = std::make_shared<Counters>();
    // The route first: when it is refused, no middleware has been added either.
    app.get(path, [counters](Request& request) { return show_metrics(counters, request); });
    app.use([counters](Request& request, Next next) {
        return count_request(counters, request, next);
    });
}

}  // namespace afterwork
