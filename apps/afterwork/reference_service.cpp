// SPDX-License-Identifier: MIT
#include "reference_service.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <unordered_map>

#include <boost/asio/error.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <afterwork/jobs/job_json.hpp>
#include <afterwork/jobs/sqlite_store.hpp>
#include <afterwork/observe/health.hpp>
#include <afterwork/observe/jobs_api.hpp>
#include <afterwork/observe/request_metrics.hpp>
#include <afterwork/observe/schedule_status.hpp>
#include <afterwork/observe/task_status.hpp>
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

// The in-process report jobs of `POST /reports/generate`: tracked handles, so a client can
// poll or cancel them, kept for a time to live after they end instead of vanishing.
class ReportJobs {
public:
    explicit ReportJobs(std::chrono::milliseconds ttl)
        : ttl_(ttl), random_(std::random_device{}()) {}

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
        case TaskState::running:
            body["status"] = "running";
            break;
        case TaskState::succeeded:
            body["status"] = "complete";
            break;
        case TaskState::cancelled:
            body["status"] = "cancelled";
            break;
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
Task<void> write_notification_later(std::shared_ptr<AppendLog> log,
                                    std::string email,
                                    std::string message,
                                    double delay_seconds) {
    if (delay_seconds > 0) {
        co_await sleep_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(delay_seconds)));
    }
    write_notification(std::move(log), std::move(email), std::move(message));
}

// The article's async `send_welcome_email`: a coroutine on the request's loop.
Task<void> send_welcome_email(std::shared_ptr<AppendLog> log, std::string email, std::string name) {
    co_await sleep_for(std::chrono::milliseconds(0));  // as `await asyncio.sleep(0)`: yield
    log->append(fmt::format("welcome email to {} ({})\n", email, name));
}

// The article's sync `log_signup`.
void log_signup(std::shared_ptr<AppendLog> log, int user_id, std::string source) {
    log->append(fmt::format("signup user_id={} source={}\n", user_id, source));
}

// ---- durable jobs -----------------------------------------------------------------------

// The durable report export: works for about `seconds`, reporting its progress as it goes,
// then writes its file. At-least-once: after a crash it runs again from the start.
struct ExportArgs {
    double seconds = 10;
};
BOOST_DESCRIBE_STRUCT(ExportArgs, (), (seconds))

constexpr int kRowsPerSecond = 1000;

void write_export(const std::filesystem::path& file, std::int64_t rows) {
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::trunc);
    out << "row,value\n";
    for (std::int64_t row = 0; row < rows; ++row) out << row << ',' << row * row % 997 << '\n';
    if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
}

Task<boost::json::value> run_export(std::filesystem::path exports_dir,
                                    JobContext& job,
                                    ExportArgs args) {
    if (!(args.seconds >= 0 && args.seconds <= 86400)) {
        throw std::invalid_argument("seconds must be between 0 and 86400");
    }
    // A step a quarter of a second at most, so the progress moves visibly.
    const int steps = std::clamp(static_cast<int>(std::ceil(args.seconds * 4)), 1, 4 * 86400);
    const auto rows = static_cast<std::int64_t>(std::llround(args.seconds * kRowsPerSecond));
    const auto step = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(args.seconds / steps));
    spdlog::info(
        "[export {}] attempt {}: {} rows over {} s", job.id(), job.attempt(), rows, args.seconds);
    for (int done = 1; done <= steps; ++done) {
        co_await sleep_for(step);
        job.set_progress(static_cast<double>(done) / steps,
                         fmt::format("exported {} of {} rows", rows * done / steps, rows));
    }
    const auto file = exports_dir / fmt::format("export-{}.csv", job.id());
    auto write = [file, rows] { write_export(file, rows); };
    co_await to_thread(std::move(write));
    co_return boost::json::value{{"rows", rows}, {"file", file.string()}};
}

// The durable form of the article's welcome email (`POST /signup?durable=1`).
struct WelcomeArgs {
    std::string email;
    std::string name;
};
BOOST_DESCRIBE_STRUCT(WelcomeArgs, (), (email, name))

// A unit of simulated work (`afterwork jobs enqueue simulate_work '{"milliseconds":50}'`):
// waits, then appends "job ID attempt N" to work.log — the crash test counts these lines.
struct SimulateArgs {
    std::int64_t milliseconds = 0;
};
BOOST_DESCRIBE_STRUCT(SimulateArgs, (), (milliseconds))

Task<void> simulate_work(std::shared_ptr<AppendLog> log, JobContext& job, SimulateArgs args) {
    if (args.milliseconds < 0 || args.milliseconds > 3'600'000) {
        throw std::invalid_argument("milliseconds must be between 0 and 3600000");
    }
    co_await sleep_for(std::chrono::milliseconds(args.milliseconds));
    log->append(fmt::format("job {} attempt {}\n", job.id(), job.attempt()));
}

JobId export_id(const Request& request) {
    const auto id = request.path_param<std::int64_t>("id");
    if (id <= 0) throw HttpError(404, "export not found");
    return id;
}

// An export job by id: 404 for an unknown id or a job that is not an export.
Task<JobRecord> find_export(Queue& queue, JobId id) {
    auto lookup = [&queue, id] { return queue.get(id); };
    auto found = co_await to_thread(std::move(lookup));
    if (!found && found.error().code() == JobsErrc::not_found) {
        throw HttpError(404, "export not found");
    }
    if (!found) throw_http_error(found.error());
    if (found->name != "export_report") throw HttpError(404, "export not found");
    co_return std::move(*found);
}

Task<Response> start_export(Request& request) {
    const auto seconds = request.query_or<double>("seconds", 10.0);
    if (!(seconds >= 0 && seconds <= 86400)) {
        throw ValidationError(
            {"query", "seconds"}, "Input should be between 0 and 86400 seconds", "value_error");
    }
    // Named locals: g++ 12 cannot turn a string literal into a coroutine's std::string
    // parameter inside a co_await expression ("array used as initializer").
    std::string name = "export_report";
    boost::json::value args{{"seconds", seconds}};
    auto enqueued = co_await request.app().jobs().co_enqueue(std::move(name), std::move(args));
    if (!enqueued) throw_http_error(enqueued.error());
    const JobId id = enqueued->id;
    co_return json_response(
        202, {{"id", id}, {"state", "queued"}, {"status_url", fmt::format("/exports/{}", id)}});
}

Task<Response> show_export(Request& request) {
    JobRecord job = co_await find_export(request.app().jobs(), export_id(request));
    co_return json_response(job_to_json(job));
}

Task<Response> cancel_export(Request& request) {
    Queue& queue = request.app().jobs();
    const JobId id = export_id(request);
    co_await find_export(queue, id);
    auto cancel = [&queue, id] { return queue.cancel(id); };
    auto cancelled = co_await to_thread(std::move(cancel));
    if (!cancelled && cancelled.error().code() == JobsErrc::invalid_state) {
        // Finished already: cancelling changes nothing; answer with its state.
        JobRecord job = co_await find_export(queue, id);
        co_return json_response({{"id", id}, {"state", to_string(job.state)}});
    }
    if (!cancelled) throw_http_error(cancelled.error());
    co_return json_response({{"id", id}, {"state", to_string(*cancelled)}});
}

}  // namespace

void define_reference_jobs(Queue& queue, const std::filesystem::path& data_dir) {
    queue.define("export_report",
                 [exports = data_dir / "exports"](JobContext& job, ExportArgs args) {
                     return run_export(exports, job, args);
                 },
                 {.max_attempts = 3, .backoff = {.base = std::chrono::seconds(1)}});
    queue.define("send_welcome_email",
                 [emails = std::make_shared<AppendLog>(data_dir / "emails.txt")](JobContext& job,
                                                                                 WelcomeArgs args) {
                     emails->append(fmt::format(
                         "welcome email to {} ({}) [job {}]\n", args.email, args.name, job.id()));
                 },
                 {.max_attempts = 5});
    queue.define("simulate_work",
                 [log = std::make_shared<AppendLog>(data_dir / "work.log")](
                     JobContext& job, SimulateArgs args) { return simulate_work(log, job, args); });
}

void build_reference_service(App& app, ReferenceOptions options) {
    auto data_dir = std::make_shared<const std::filesystem::path>(options.data_dir);
    const auto report_ttl = options.report_ttl;

    app.every(options.session_cleanup_interval, "session-cleanup", cleanup_expired_sessions);
    app.every(options.exchange_rates_interval, "exchange-rates", refresh_exchange_rates);
    app.every(options.analytics_interval, "analytics", aggregate_analytics);
    app.supervise("cache-warmer",
                  [every = options.cache_warm_interval] { return warm_cache(every); });

    // The zone is checked before anything touches the disk, so a typo fails cleanly.
    TimeZone::locate(options.cron_time_zone);
    // Schedules persist in the service's database, so a restart resumes each cron schedule
    // where it was instead of forgetting an occurrence that came while it was down.
    std::error_code created;
    std::filesystem::create_directories(options.data_dir, created);
    if (created) {
        throw std::runtime_error("cannot create the data folder " + options.data_dir.string() +
                                 ": " + created.message());
    }
    auto database = SqliteStore::open(options.data_dir / "afterwork.db");
    if (!database) throw database.error();
    std::shared_ptr<SqliteStore> store = std::move(*database);
    app.configure_scheduler({.store = SqliteStore::schedule_store(store), .name = "cron"});
    // Durable jobs in the same file; the in-process worker runs them.
    app.configure_jobs(
        {.store = store, .queue = {}, .worker = {.lease = options.job_lease}, .run_worker = true});
    define_reference_jobs(app.jobs(), options.data_dir);
    mount_jobs_api(app, app.jobs());

    const CronOptions in_zone{.tz = options.cron_time_zone};
    app.cron("0 9 * * *", "daily_digest", daily_digest, in_zone);
    app.cron("0 * * * *", "hourly_cleanup", hourly_cleanup, in_zone);
    app.cron("0 8 * * mon", "weekly_report", weekly_report, in_zone);

    app.on_startup([data_dir, report_ttl](App& self) {
        std::error_code ec;
        std::filesystem::create_directories(*data_dir, ec);
        if (ec) {
            throw std::runtime_error("cannot create the data folder " + data_dir->string() + ": " +
                                     ec.message());
        }
        self.state().emplace<Logs>(*data_dir);
        self.state().emplace<ReportJobs>(report_ttl);
        spdlog::info("data folder: {}", std::filesystem::absolute(*data_dir).string());
    });
    app.on_shutdown([](App&) { spdlog::info("reference service stopped"); });

    // As the article's `track_requests` middleware, with the app's background task counters.
    mount_request_metrics(app);

    app.post(
        "/send-notification/{email}",
        [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
            auto email = std::string(request.path_param("email"));
            auto delay = request.query_or<double>("delay", 0.0);
            if (!(delay >= 0 && delay <= 3600)) {
                throw ValidationError({"query", "delay"},
                                      "Input should be between 0 and 3600 seconds",
                                      "value_error");
            }
            auto& logs = request.state().get<Logs>();
            if (delay > 0) {
                tasks.add(write_notification_later,
                          logs.notifications,
                          email,
                          "some notification",
                          delay);
            } else if (request.query("sync")) {
                tasks.add(write_notification, logs.notifications, email, "some notification");
            } else {
                tasks.add(
                    write_notification_later, logs.notifications, email, "some notification", 0.0);
            }
            co_return json_response({{"message", "Notification sent in the background"}});
        });

    app.post("/signup", [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
        auto body = request.json<SignupRequest>();
        const int user_id = 42;  // the article's stub `create_user`
        auto& logs = request.state().get<Logs>();
        if (request.query_or<bool>("durable", false)) {
            // Stored before the answer: the email survives a crash a millisecond later.
            std::string job_name = "send_welcome_email";
            WelcomeArgs welcome{body.email, body.name};
            auto job = co_await tasks.enqueue(std::move(job_name), welcome);
            tasks.add(log_signup, logs.signups, user_id, body.source.value_or("organic"));
            co_return json_response(
                201, {{"user_id", user_id}, {"email", body.email}, {"welcome_job_id", job.id}});
        }
        tasks.add(send_welcome_email, logs.emails, body.email, body.name);
        tasks.add(log_signup, logs.signups, user_id, body.source.value_or("organic"));
        co_return json_response(201, {{"user_id", user_id}, {"email", body.email}});
    });

    app.post("/reports/generate", [data_dir](Request& request) -> Task<Response> {
        auto seconds = request.query_or<double>("seconds", 60.0);
        if (!(seconds >= 0 && seconds <= 86400)) {
            throw ValidationError(
                {"query", "seconds"}, "Input should be between 0 and 86400 seconds", "value_error");
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

    mount_task_status(app);

    // The durable report export: survives restarts, retried, cancellable, with progress.
    app.post("/exports", [](Request& request) { return start_export(request); });
    app.get("/exports/{id}", [](Request& request) { return show_export(request); });
    app.del("/exports/{id}", [](Request& request) { return cancel_export(request); });

    // The article's listing, field for field.
    mount_schedule_listing(app, "/jobs");
    mount_schedule_status(app);
    mount_health(app);
}

}  // namespace afterwork::apps
