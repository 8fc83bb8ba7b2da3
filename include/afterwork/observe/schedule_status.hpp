// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The app's schedules (`App::cron`, `App::schedule`, `App::scheduler()`) over HTTP, in two
/// shapes: everything the scheduler knows about each one, and the short listing of
/// APScheduler's `get_jobs()` that the reference articles serve.
///
///     mount_schedule_status:   GET {path}   200 [{"id","name","trigger","description",
///                                  "time_zone","next_run","last_run","last_outcome",
///                                  "last_error","paused","running","runs","failures",
///                                  "missed","skipped","misfire_grace_seconds"}]
///     mount_schedule_listing:  GET {path}   200 [{"id","name","next_run"}]
///
/// Both list in `Scheduler::schedules()` order (next run first, paused last). Times are ISO
/// 8601 in the schedule's own zone with its offset (`"2026-11-23T09:00:00+05:30"`), or null
/// (no last run yet; a paused schedule has no next run).
///
/// @par Thread safety
/// Call at configuration time, before the app starts. The handlers are thread-safe (they read
/// the scheduler, which is).

#include <string>

#include <afterwork/http/app.hpp>

namespace afterwork {

/// Adds `GET {path}` with the full status of every schedule. Throws `std::invalid_argument`
/// when the route is taken or the path is malformed (as `App::get`).
void mount_schedule_status(App& app, std::string path = "/schedules");

/// Adds `GET {path}` with `[{"id","name","next_run"}]` per schedule. There is no default path:
/// the reference service mounts it at the articles' `/jobs`, but in afterwork a job is a
/// durable job (`mount_jobs_api`), so a new service should pick a name such as
/// `/schedules/next`. Throws as `mount_schedule_status`.
void mount_schedule_listing(App& app, std::string path);

}  // namespace afterwork
