// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `mount_jobs_api`: the REST API over a durable job `Queue`, mounted on an `App` under a
/// prefix (default `/afterwork/api`) — what the dashboard, scripts and other services use to
/// enqueue, watch and manage jobs.
///
///     GET    {prefix}/jobs?state=&queue=&name=&limit=50&before=ID
///                                   {"jobs":[job...],"next_before":ID|null}, newest first
///     GET    {prefix}/jobs/{id}     one job (the shape of job_json.hpp)
///     POST   {prefix}/jobs          {"name","args"?,"queue"?,"priority"?,"delay"? (seconds),
///                                    "run_at"? (ISO 8601),"unique_key"?,"max_attempts"?}
///                                   201 {"id","created":true,"job"} — 200 with
///                                   "created":false when a unique key matched a job
///     POST   {prefix}/jobs/{id}/cancel   {"id","state"}: cancelled, or running while the
///                                        handler sees the cancellation
///     POST   {prefix}/jobs/{id}/retry    the job, queued again (dead, failed, cancelled)
///     DELETE {prefix}/jobs/{id}[?force=true]   204 (a running job needs force)
///     GET    {prefix}/queues        [{"queue","counts":{state:n},"total"}]
///
/// Mutations (POST, DELETE) need `Authorization: Bearer <token>`: the token is
/// `JobsApiOptions::admin_token`, else the environment variable `AFTERWORK_ADMIN_TOKEN` when
/// the API is mounted. With no token set, mutations are refused (403), never open; a missing
/// or wrong token is 401. Reads need no token.
///
/// Errors are the app's JSON errors: 404 unknown id, 409 a state that does not allow the call
/// (retrying a running job) or a unique key taken, 422 bad input (unknown job name, arguments
/// that do not match the definition, negative delay, priority out of range, a bad id or
/// filter), 503 the store failing (locked, read-only, full, damaged) with the store's message.
/// A failed call changes nothing.
///
/// @par Thread safety
/// Call at configuration time, before the app starts. The handlers are thread-safe.
///
/// @par Lifetime
/// `queue` must outlive the app's serving.

#include <optional>
#include <string>

#include <afterwork/http/app.hpp>
#include <afterwork/jobs/queue.hpp>

namespace afterwork {

struct JobsApiOptions {
    std::string prefix = "/afterwork/api";
    /// The bearer token mutations need; unset: `AFTERWORK_ADMIN_TOKEN` at mount time.
    std::optional<std::string> admin_token;
};

void mount_jobs_api(App& app, Queue& queue, JobsApiOptions options = {});

}  // namespace afterwork
