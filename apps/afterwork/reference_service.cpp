// SPDX-License-Identifier: MIT
#include "reference_service.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>

#include <boost/describe/class.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/sleep.hpp>

namespace afterwork::apps {

namespace {

// An append-only text file shared by every thread. Each line is one write(2) on an O_APPEND
// descriptor, which the kernel keeps whole even when several threads append at once.
class AppendLog {
public:
    explicit AppendLog(const std::filesystem::path& path)
        : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {
        if (fd_ < 0) {
            throw std::system_error(errno, std::generic_category(), "cannot open " + path.string());
        }
    }
    AppendLog(const AppendLog&) = delete;
    AppendLog& operator=(const AppendLog&) = delete;
    ~AppendLog() { ::close(fd_); }

    /// Appends `line`, which ends with its newline.
    void append(std::string_view line) {
        std::string_view rest = line;
        while (!rest.empty()) {
            ssize_t n = ::write(fd_, rest.data(), rest.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                throw std::system_error(errno, std::generic_category(), "append failed");
            }
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
    }

private:
    int fd_;
};

// The files the background tasks write, opened in the lifespan's startup.
struct Logs {
    explicit Logs(const std::filesystem::path& dir)
        : notifications(std::make_shared<AppendLog>(dir / "log.txt")),
          emails(std::make_shared<AppendLog>(dir / "emails.txt")),
          signups(std::make_shared<AppendLog>(dir / "signups.txt")) {}
    std::shared_ptr<AppendLog> notifications;
    std::shared_ptr<AppendLog> emails;
    std::shared_ptr<AppendLog> signups;
};

// Kept by a middleware, as in the article's `track_requests`.
struct RequestMetrics {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> errors{0};
};

struct SignupRequest {
    std::string email;
    std::string name;
    std::optional<std::string> source;
};
BOOST_DESCRIBE_STRUCT(SignupRequest, (), (email, name, source))

// The article's `write_notification`: a plain function, so it runs on the background pool.
void write_notification(std::shared_ptr<AppendLog> log, std::string email, std::string message) {
    fmt::memory_buffer line;  // on the stack for any sane e-mail address
    fmt::format_to(std::back_inserter(line), "notification for {}: {}\n", email, message);
    log->append({line.data(), line.size()});
}

// With ?delay=N the task waits on the loop first: the response is long gone by then.
Task<void> write_notification_later(std::shared_ptr<AppendLog> log, std::string email,
                                    std::string message, double delay_seconds) {
    if (delay_seconds > 0) {
        co_await sleep_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(delay_seconds)));
    }
    write_notification(std::move(log), std::move(email), std::move(message));
}

// The article's async `send_welcome_email`: a coroutine on the request's loop.
Task<void> send_welcome_email(std::shared_ptr<AppendLog> log, std::string email,
                              std::string name) {
    co_await sleep_for(std::chrono::milliseconds(0));  // as `await asyncio.sleep(0)`: yield
    log->append(fmt::format("welcome email to {} ({})\n", email, name));
}

// The article's sync `log_signup`.
void log_signup(std::shared_ptr<AppendLog> log, int user_id, std::string source) {
    log->append(fmt::format("signup user_id={} source={}\n", user_id, source));
}

Task<Response> count_requests(Request& request, Next next) {
    auto& metrics = request.state().get<RequestMetrics>();
    metrics.requests.fetch_add(1, std::memory_order_relaxed);
    try {
        Response response = co_await next(request);
        if (response.status >= 500) metrics.errors.fetch_add(1, std::memory_order_relaxed);
        co_return response;
    } catch (...) {
        metrics.errors.fetch_add(1, std::memory_order_relaxed);
        throw;
    }
}

}  // namespace

void build_reference_service(App& app, ReferenceOptions options) {
    auto data_dir = std::make_shared<const std::filesystem::path>(options.data_dir);

    app.on_startup([data_dir](App& self) {
        std::error_code ec;
        std::filesystem::create_directories(*data_dir, ec);
        if (ec) {
            throw std::runtime_error("cannot create the data folder " + data_dir->string() +
                                     ": " + ec.message());
        }
        self.state().emplace<Logs>(*data_dir);
        self.state().emplace<RequestMetrics>();
        spdlog::info("data folder: {}", std::filesystem::absolute(*data_dir).string());
    });
    app.on_shutdown([](App&) { spdlog::info("reference service stopped"); });

    app.use(count_requests);

    app.post("/send-notification/{email}",
             [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
                 auto email = std::string(request.path_param("email"));
                 auto delay = request.query_or<double>("delay", 0.0);
                 if (!(delay >= 0 && delay <= 3600)) {
                     throw ValidationError(
                         {"query", "delay"},
                         "Input should be between 0 and 3600 seconds", "value_error");
                 }
                 auto& logs = request.state().get<Logs>();
                 if (delay > 0) {
                     tasks.add(write_notification_later, logs.notifications, email,
                               "some notification", delay);
                 } else if (request.query("sync")) {
                     tasks.add(write_notification, logs.notifications, email,
                               "some notification");
                 } else {
                     tasks.add(write_notification_later, logs.notifications, email,
                               "some notification", 0.0);
                 }
                 co_return json_response({{"message", "Notification sent in the background"}});
             });

    app.post("/signup", [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
        auto body = request.json<SignupRequest>();
        const int user_id = 42;  // the article's stub `create_user`
        auto& logs = request.state().get<Logs>();
        tasks.add(send_welcome_email, logs.emails, body.email, body.name);
        tasks.add(log_signup, logs.signups, user_id, body.source.value_or("organic"));
        co_return json_response(201, {{"user_id", user_id}, {"email", body.email}});
    });

    app.get("/healthz", [](Request&) -> Task<Response> {
        co_return json_response({{"status", "ok"}});
    });

    app.get("/metrics", [](Request& request) -> Task<Response> {
        auto& metrics = request.state().get<RequestMetrics>();
        auto background = request.app().background_stats();
        co_return json_response({{"requests", metrics.requests.load()},
                                 {"errors", metrics.errors.load()},
                                 {"background_tasks",
                                  {{"scheduled", background.scheduled},
                                   {"succeeded", background.succeeded},
                                   {"failed", background.failed},
                                   {"dropped", background.dropped},
                                   {"abandoned", background.abandoned},
                                   {"pending", background.pending}}},
                                 {"pid", static_cast<std::int64_t>(::getpid())}});
    });
}

}  // namespace afterwork::apps
