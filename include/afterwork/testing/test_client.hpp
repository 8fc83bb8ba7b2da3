// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `testing::TestClient`: drives an `App` in-process, as FastAPI's `TestClient` does — it runs
/// the lifespan on construction and its shutdown on destruction, sends requests straight into
/// the app's pipeline (no socket), and can wait until every background task has finished, so
/// tests are deterministic without sleeps.
///
/// Requests go through the same path as on the network — target checks, routing, middleware,
/// exception handlers — and background tasks start after the response is handed back.
///
/// @par Thread safety
/// Distinct objects safe, shared unsafe: use one client from one thread. Requests block the
/// calling thread, which must not be a loop thread of the app.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include <afterwork/http/app.hpp>

namespace afterwork::testing {

struct TestResponse {
    int status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;

    std::optional<std::string_view> header(std::string_view name) const;
    /// The body parsed as JSON; throws `std::runtime_error` with the body when it is not JSON.
    boost::json::value json() const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class TestClient {
public:
    /// Starts `app` with `options` (by default two loops and no socket), running its startup.
    /// Throws `StartupError` if the startup fails.
    explicit TestClient(App& app, ServeOptions options = default_options());
    TestClient(const TestClient&) = delete;
    TestClient& operator=(const TestClient&) = delete;
    /// Stops the app gracefully: drains background tasks, runs the shutdown.
    ~TestClient();

    TestResponse request(std::string_view method, std::string_view target,
                         std::string body = {}, const Headers& headers = {});
    TestResponse get(std::string_view target, const Headers& headers = {});
    TestResponse del(std::string_view target, const Headers& headers = {});
    TestResponse post(std::string_view target, std::string body = {},
                      const Headers& headers = {});
    /// POST with a JSON body and `content-type: application/json`.
    TestResponse post_json(std::string_view target, const boost::json::value& body,
                           const Headers& headers = {});

    /// Waits until no background task is queued or running; false after `timeout`.
    bool wait_background(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    App& app() noexcept { return app_; }

    static ServeOptions default_options() {
        ServeOptions options;
        options.threads = 2;
        options.listen = false;
        options.handle_signals = false;
        options.drain_timeout = std::chrono::seconds(10);
        return options;
    }

private:
    App& app_;
    std::size_t next_loop_ = 0;
};

}  // namespace afterwork::testing
