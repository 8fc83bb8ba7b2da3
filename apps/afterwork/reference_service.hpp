// SPDX-License-Identifier: MIT
#pragma once

// The reference service of `afterwork serve`: the examples of the reference articles
// (FastAPI's BackgroundTasks and lifespan) as one App. Built into a small library so the tests
// can drive it through the TestClient as well as over a socket.

#include <chrono>
#include <filesystem>
#include <string>

#include <afterwork/http/app.hpp>
#include <afterwork/jobs/queue.hpp>

namespace afterwork::apps {

struct ReferenceOptions {
    std::filesystem::path data_dir = "var";
    // The article's periodic tasks and its supervised cache warmer (shorten them in tests).
    std::chrono::milliseconds session_cleanup_interval{300'000};
    std::chrono::milliseconds exchange_rates_interval{3'600'000};
    std::chrono::milliseconds analytics_interval{3'600'000};
    std::chrono::milliseconds cache_warm_interval{300'000};
    /// How long a finished report job stays visible at /reports/{id}/status.
    std::chrono::milliseconds report_ttl{3'600'000};
    /// The zone of the article's three cron jobs (daily digest 09:00, hourly clean-up at minute
    /// 0, weekly report Monday 08:00), as its `AsyncIOScheduler(timezone="Asia/Kolkata")`.
    std::string cron_time_zone = "Asia/Kolkata";
    /// The lease of the in-process worker's durable jobs: how long after a crash a running
    /// export is given to another worker (or to this service after a restart).
    std::chrono::milliseconds job_lease{30'000};
};

/// Defines the reference service's durable jobs (`export_report`, `send_welcome_email`) on
/// `queue`: the service and `afterwork worker` run the same definitions.
void define_reference_jobs(Queue& queue, const std::filesystem::path& data_dir);

/// Adds the routes, middleware and lifespan of the reference service to `app`. Creates the
/// data folder and opens its database (`afterwork.db`, where the schedules persist); throws
/// `ScheduleError` for an unknown `cron_time_zone` (before touching the disk), `JobsError` for
/// a database that cannot be opened, std::runtime_error for a folder that cannot be made.
void build_reference_service(App& app, ReferenceOptions options);

}  // namespace afterwork::apps
