// SPDX-License-Identifier: MIT
#include "reference_service.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <fstream>
#include <mutex>
#include <random>
#include <unordered_map>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>

#include <boost/describe/class.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <afterwork/runtime/task_handle.hpp>
#include <afterwork/schedule/time_zone.hpp>

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

// The in-process report jobs of `POST /reports/generate`: tracked handles, so a client can
// poll or cancel them, kept for a time to live after they end instead of vanishing.
class ReportJobs {
public:
    explicit ReportJobs(std::chrono::milliseconds ttl) : ttl_(ttl), random_(std::random_device{}()) {}

    std::string add(TaskHandle<void> handle, std::string id) {
        std::lock_guard lock(mutex_);
        purge_expired();
        jobs_.emplace(id, std::move(handle));
        return id;
    }

    std::string new_id() {
        std::lock_guard lock(mutex_);
        return fmt::format("{:016x}{:016x}", random_(), random_());
    }

    std::optional<TaskHandle<void>> find(std::string_view id) {
        std::lock_guard lock(mutex_);
        purge_expired();
        auto it = jobs_.find(std::string(id));
        if (it == jobs_.end()) return std::nullopt;
        return it->second;
    }

private:
    void purge_expired() {
        const auto now = std::chrono::system_clock::now();
        std::erase_if(jobs_, [&](const auto& entry) {
            auto finished = entry.second.finished_at();
            return finished && now - *finished > ttl_;
        });
    }

    std::chrono::milliseconds ttl_;
    std::mutex mutex_;
    std::mt19937_64 random_;
    std::unordered_map<std::string, TaskHandle<void>> jobs_;
};

boost::json::object report_status(std::string_view id, const TaskHandle<void>& handle) {
    boost::json::object body{{"job_id", id}};
    switch (handle.state()) {
        case TaskState::pending:
        case TaskState::running: body["status"] = "running"; break;
        case TaskState::succeeded: body["status"] = "complete"; break;
        case TaskState::cancelled: body["status"] = "cancelled"; break;
        case TaskState::failed: {
            body["status"] = "failed";
            try {
                std::rethrow_exception(handle.error());
            } catch (const std::exception& e) {
                body["error"] = e.what();
            } catch (...) {
                body["error"] = "unknown error";
            }
            break;
        }
    }
    return body;
}

// The article's long_running_report: awaits (here: `seconds` of simulated work), then does the
// blocking part — writing the report file — through to_thread.
Task<void> generate_report(std::filesystem::path reports_dir, std::string job_id, double seconds) {
    spdlog::info("[{}] starting report generation ({} s)", job_id, seconds);
    try {
        co_await sleep_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(seconds)));
        auto write = [reports_dir, job_id] {
            std::filesystem::create_directories(reports_dir);
            std::ofstream out(reports_dir / (job_id + ".json"));
            out << boost::json::serialize(boost::json::object{{"job_id", job_id}, {"rows", 0}})
                << "\n";
            if (!out) throw std::runtime_error("cannot write the report file");
        };
        co_await to_thread(std::move(write));
        spdlog::info("[{}] report complete", job_id);
    } catch (const boost::system::system_error& e) {
        if (e.code() == boost::asio::error::operation_aborted) {
            spdlog::info("[{}] report cancelled", job_id);
        }
        throw;
    }
}

std::string iso_time(std::chrono::system_clock::time_point when) {
    auto seconds = std::chrono::floor<std::chrono::seconds>(when);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(when - seconds).count();
    std::time_t t = std::chrono::system_clock::to_time_t(seconds);
    std::tm parts{};
    gmtime_r(&t, &parts);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
    return fmt::format("{}.{:03}Z", text, millis);
}

boost::json::value optional_time(const std::optional<std::chrono::system_clock::time_point>& t) {
    return t ? boost::json::value(iso_time(*t)) : boost::json::value(nullptr);
}

// The article's periodic jobs: each logs, as the article's print() does.
Task<void> cleanup_expired_sessions() {
    spdlog::info("cleaning expired sessions...");
    co_return;
}
Task<void> refresh_exchange_rates() {
    spdlog::info("refreshing exchange rates...");
    co_return;
}
Task<void> aggregate_analytics() {
    spdlog::info("aggregating hourly analytics...");
    co_return;
}

// The article's cron jobs (its APScheduler section).
Task<void> daily_digest() {
    spdlog::info("sending daily digest emails...");
    co_return;
}
Task<void> hourly_cleanup() {
    spdlog::info("running hourly cleanup...");
    co_return;
}
Task<void> weekly_report() {
    spdlog::info("generating weekly report...");
    co_return;
}

// An instant of a scheduled job in the job's own zone, with the offset
// ("2026-11-23T09:00:00+05:30"); null when there is none (a paused job's next run).
boost::json::value local_time_json(const std::optional<TimePoint>& instant,
                                   const std::string& zone) {
    if (!instant) return nullptr;
    return boost::json::value(format_iso8601(*instant, TimeZone::locate(zone)));
}

// The article's background_cache_warmer: a long-running coroutine, supervised.
Task<void> warm_cache(std::chrono::milliseconds every) {
    for (;;) {
        spdlog::info("warming cache...");
        co_await sleep_for(every);
    }
}

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
    const auto report_ttl = options.report_ttl;

    app.every(options.session_cleanup_interval, "session-cleanup", cleanup_expired_sessions);
    app.every(options.exchange_rates_interval, "exchange-rates", refresh_exchange_rates);
    app.every(options.analytics_interval, "analytics", aggregate_analytics);
    app.supervise("cache-warmer", [every = options.cache_warm_interval] {
        return warm_cache(every);
    });

    const CronOptions in_zone{.tz = options.cron_time_zone};
    app.cron("0 9 * * *", "daily_digest", daily_digest, in_zone);
    app.cron("0 * * * *", "hourly_cleanup", hourly_cleanup, in_zone);
    app.cron("0 8 * * mon", "weekly_report", weekly_report, in_zone);

    app.on_startup([data_dir, report_ttl](App& self) {
        std::error_code ec;
        std::filesystem::create_directories(*data_dir, ec);
        if (ec) {
            throw std::runtime_error("cannot create the data folder " + data_dir->string() +
                                     ": " + ec.message());
        }
        self.state().emplace<Logs>(*data_dir);
        self.state().emplace<RequestMetrics>();
        self.state().emplace<ReportJobs>(report_ttl);
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

    app.post("/reports/generate", [data_dir](Request& request) -> Task<Response> {
        auto seconds = request.query_or<double>("seconds", 60.0);
        if (!(seconds >= 0 && seconds <= 86400)) {
            throw ValidationError({"query", "seconds"},
                                  "Input should be between 0 and 86400 seconds", "value_error");
        }
        auto& jobs = request.state().get<ReportJobs>();
        auto id = jobs.new_id();
        SpawnOptions spawn_options;
        spawn_options.name = "report-" + id;
        // Tracked by the app: shutdown waits for it, then cancels it so it can clean up.
        auto handle = request.app().spawn(generate_report(*data_dir / "reports", id, seconds),
                                          std::move(spawn_options));
        jobs.add(std::move(handle), id);
        co_return json_response({{"job_id", id}, {"status", "running"}});
    });

    app.get("/reports/{job_id}/status", [](Request& request) -> Task<Response> {
        auto id = request.path_param("job_id");
        auto handle = request.state().get<ReportJobs>().find(id);
        if (!handle) throw HttpError(404, "report job not found");
        co_return json_response(report_status(id, *handle));
    });

    app.del("/reports/{job_id}", [](Request& request) -> Task<Response> {
        auto id = std::string(request.path_param("job_id"));
        auto handle = request.state().get<ReportJobs>().find(id);
        if (!handle) throw HttpError(404, "report job not found");
        if (handle->cancel()) {
            // Answer with the final state: wait for the job to see the cancellation.
            try {
                co_await handle->wait();
            } catch (...) {
            }
        }
        co_return json_response(report_status(id, *handle));
    });

    app.get("/tasks", [](Request& request) -> Task<Response> {
        boost::json::array list;
        for (const auto& status : request.app().recurring_status()) {
            boost::json::object item{{"name", status.name},
                                     {"kind", status.kind},
                                     {"state", status.state},
                                     {"runs", status.runs},
                                     {"failures", status.failures},
                                     {"skipped", status.skipped},
                                     {"restarts", status.restarts},
                                     {"last_run", optional_time(status.last_run)},
                                     {"next_run", optional_time(status.next_run)}};
            if (status.kind == "periodic") {
                item["interval_seconds"] = static_cast<double>(status.interval.count()) / 1000;
            }
            item["last_error"] = status.last_error ? boost::json::value(*status.last_error)
                                                   : boost::json::value(nullptr);
            list.push_back(std::move(item));
        }
        co_return json_response(list);
    });

    // The article's listing, field for field.
    app.get("/jobs", [](Request& request) -> Task<Response> {
        boost::json::array list;
        for (const auto& job : request.app().scheduler().jobs()) {
            list.push_back(
                {{"id", job.id}, {"name", job.name}, {"next_run", local_time_json(job.next_run, job.time_zone)}});
        }
        co_return json_response(list);
    });

    // Everything the scheduler knows about each job.
    app.get("/schedules", [](Request& request) -> Task<Response> {
        boost::json::array list;
        for (const auto& job : request.app().scheduler().jobs()) {
            boost::json::object item{
                {"id", job.id},
                {"name", job.name},
                {"trigger", job.trigger},
                {"description", job.description},
                {"time_zone", job.time_zone},
                {"next_run", local_time_json(job.next_run, job.time_zone)},
                {"last_run", local_time_json(job.last_run, job.time_zone)},
                {"last_outcome", to_string(job.last_outcome)},
                {"last_error", job.last_error ? boost::json::value(*job.last_error)
                                              : boost::json::value(nullptr)},
                {"paused", job.paused},
                {"running", job.running},
                {"runs", job.runs},
                {"failures", job.failures},
                {"missed", job.missed},
                {"skipped", job.skipped},
                {"misfire_grace_seconds", static_cast<double>(job.misfire_grace.count()) / 1000}};
            list.push_back(std::move(item));
        }
        co_return json_response(list);
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
