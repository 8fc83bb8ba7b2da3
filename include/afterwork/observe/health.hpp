// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `mount_health`: a liveness endpoint for load balancers and orchestrators (Kubernetes'
/// `livenessProbe`, a Docker `HEALTHCHECK`).
///
///     GET {path}    200 {"status":"ok"}
///
/// It answers as long as the app's loops serve requests; it checks no dependency (a database
/// that is down should not get the process restarted).
///
/// @par Thread safety
/// Call at configuration time, before the app starts. The handler is thread-safe.

#include <string>

#include <afterwork/http/app.hpp>

namespace afterwork {

/// Adds `GET {path}` answering `{"status":"ok"}`. Throws `std::invalid_argument` when the
/// route is taken or the path is malformed (as `App::get`).
void mount_health(App& app, std::string path = "/healthz");

}  // namespace afterwork
