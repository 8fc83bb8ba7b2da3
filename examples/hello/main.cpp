// SPDX-License-Identifier: MIT
// A minimal service: a GET route, a POST route that answers at once and sends its
// notification in the background, and a lifespan that sets up what the tasks use.
//
//   example_hello [--port N]   serve on http://127.0.0.1:N (8000 by default); Ctrl-C stops
//   example_hello --smoke      drive the app in-process with the TestClient, exit 0 if all is well
//
//   curl http://127.0.0.1:8000/hello/ada
//   curl -X POST http://127.0.0.1:8000/notify/ada@example.com

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <afterwork/afterwork.hpp>

namespace {

using afterwork::App;
using afterwork::BackgroundTasks;
using afterwork::Request;
using afterwork::Response;
using afterwork::Task;

// Where the "sent" notifications go: a stand-in for a mail server or a log file.
// Thread-safe: coroutine tasks run on the loops, plain-function tasks on the background pool.
class Outbox {
public:
    void add(std::string line) {
        std::lock_guard lock(mutex_);
        lines_.push_back(std::move(line));
    }
    std::vector<std::string> lines() const {
        std::lock_guard lock(mutex_);
        return lines_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

using OutboxPtr = std::shared_ptr<Outbox>;

// A coroutine background task: runs on the request's loop after the response was written.
Task<void> send_email(OutboxPtr outbox, std::string email, std::string message) {
    co_await afterwork::sleep_for(std::chrono::milliseconds(10));  // as if talking to SMTP
    outbox->add("email to " + email + ": " + message);
}

// A plain-function background task: runs on the app's background pool, so it may block.
void write_log(OutboxPtr outbox, std::string line) { outbox->add("log: " + line); }

void build(App& app) {
    // The code before `serving()` runs at startup, the code after it at shutdown (after the
    // background tasks have drained).
    app.lifespan([](App& self) -> Task<void> {
        self.state().emplace<OutboxPtr>(std::make_shared<Outbox>());
        std::cout << "hello: starting" << std::endl;
        co_await self.serving();
        std::cout << "hello: stopped after sending "
                  << self.state().get<OutboxPtr>()->lines().size() << " line(s)" << std::endl;
    });

    app.get("/hello/{name}", [](Request& request) -> Task<Response> {
        co_return afterwork::json_response(
            {{"message", "Hello, " + std::string(request.path_param("name"))}});
    });

    app.post("/notify/{email}", [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
        // Arguments are copied into the tasks: they never read the request once it is gone.
        auto email = std::string(request.path_param("email"));
        auto outbox = request.state().get<OutboxPtr>();
        tasks.add(send_email, outbox, email, "welcome!");
        tasks.add(write_log, outbox, "notified " + email);
        co_return afterwork::json_response(202,
                                           {{"message", "Notification sent in the background"}});
    });
}

int smoke_failure(std::string_view what, const afterwork::testing::TestResponse& response) {
    std::cerr << "smoke: unexpected answer to " << what << ": " << response.status << " "
              << response.body << "\n";
    return EXIT_FAILURE;
}

// Drives the app in-process as a test would; returns the process exit code.
int smoke() {
    App app;
    build(app);
    afterwork::testing::TestClient client(app);

    auto hello = client.get("/hello/ada");
    if (hello.status != 200 || hello.json().at("message") != "Hello, ada") {
        return smoke_failure("GET /hello/ada", hello);
    }
    auto notify = client.post("/notify/ada@example.com");
    if (notify.status != 202) return smoke_failure("POST /notify/ada@example.com", notify);
    if (!client.wait_background(std::chrono::seconds(10))) {
        std::cerr << "smoke: background tasks did not finish within 10 s\n";
        return EXIT_FAILURE;
    }
    const std::vector<std::string> expected{"email to ada@example.com: welcome!",
                                            "log: notified ada@example.com"};
    if (app.state().get<OutboxPtr>()->lines() != expected) {
        std::cerr << "smoke: the background tasks did not run in order\n";
        return EXIT_FAILURE;
    }
    std::cout << "smoke: ok" << std::endl;
    return EXIT_SUCCESS;
}

// Serves until SIGINT/SIGTERM, then shuts down gracefully; throws `StartupError`.
int serve(std::uint16_t port) {
    App app;
    build(app);
    afterwork::ServeOptions options;
    options.port = port;
    app.start(options);
    const auto base = "http://127.0.0.1:" + std::to_string(app.port());
    std::cout << "hello: serving on " << base << " (Ctrl-C stops)\n"
              << "  GET  " << base << "/hello/{name}\n"
              << "  POST " << base << "/notify/{email}" << std::endl;
    app.wait();
    app.stop();
    return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
    bool smoke_run = false;
    unsigned long port = 8000;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--smoke") {
            smoke_run = true;
        } else if (arg == "--port" && i + 1 < argc) {
            try {
                port = std::stoul(argv[++i]);
            } catch (const std::exception&) {
                port = 65536;
            }
            if (port > 65535) {
                std::cerr << "example_hello: --port wants a number from 0 to 65535\n";
                return EXIT_FAILURE;
            }
        } else {
            std::cerr << "usage: example_hello [--port N] [--smoke]\n";
            return EXIT_FAILURE;
        }
    }
    try {
        return smoke_run ? smoke() : serve(static_cast<std::uint16_t>(port));
    } catch (const std::exception& e) {
        std::cerr << "example_hello: " << e.what() << "\n";
        return EXIT_FAILURE;
    }
}
