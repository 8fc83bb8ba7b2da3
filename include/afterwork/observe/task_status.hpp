// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `mount_task_status`: the app's periodic (`App::every`) and supervised (`App::supervise`)
/// tasks with their state and counts — `App::recurring_status()` as JSON.
///
///     GET {path}    200 [{"name","kind":"periodic"|"supervised","state","runs","failures",
///                         "skipped","restarts","last_run","next_run",
///                         "interval_seconds" (periodic only),"last_error"}]
///
/// Times are UTC ISO 8601 with milliseconds (`"2026-03-01T09:00:00.000Z"`) or null;
/// `last_error` is the message of the last failure, or null.
///
/// @par Thread safety
/// Call at configuration time, before the app starts. The handler is thread-safe.

#include <string>

#include <afterwork/http/app.hpp>

namespace afterwork {

/// Adds `GET {path}` listing the recurring tasks. Throws `std::invalid_argument` when the route
/// is taken or the path is malformed (as `App::get`).
void mount_task_status(App& app, std::string path = "/tasks");

}  // namespace afterwork
