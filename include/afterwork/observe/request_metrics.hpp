// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `mount_request_metrics`: request and error counts kept by a middleware, with the app's
/// background task counters, as one JSON document.
///
///     GET {path}    200 {"requests":N,"errors":N,
///                        "background_tasks":{"scheduled":N,"succeeded":N,"failed":N,
///                                            "dropped":N,"abandoned":N,"pending":N},
///                        "pid":N}
///
/// `requests` counts every request that reached the app's middleware chain since the mount —
/// unknown paths (404), wrong methods (405), bad input (422) and the metrics request itself
/// included; `errors` those answered with a 5xx status or ended by an exception no handler
/// turned into a response. Requests the server refuses before routing (400 malformed, 413,
/// 431, 503 at the connection limit) are not counted. `background_tasks` is
/// `App::background_stats()`; `pid` tells the processes behind a load balancer apart.
///
/// The middleware is added where this is called: middleware added before it sees requests
/// first, and an answer such middleware gives on its own is not counted.
///
/// @par Thread safety
/// Call at configuration time, before the app starts. The counters are atomic: the middleware
/// and the handler run on every loop without a lock.

#include <string>

#include <afterwork/http/app.hpp>

namespace afterwork {

/// Adds the counting middleware and `GET {path}`. Throws `std::invalid_argument` when the route
/// is taken or the path is malformed (as `App::get`).
void mount_request_metrics(App& app, std::string path = "/metrics");

}  // namespace afterwork
