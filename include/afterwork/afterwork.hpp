// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The umbrella header: everything a service needs — the app, requests and responses,
/// background tasks, the runtime (tasks, loops, pools, task groups), schedules, durable jobs
/// (queue, worker, memory and SQLite stores), the observe endpoints (health, metrics, task and
/// schedule status, the jobs REST API) and the test client.
/// Prefer the individual headers in libraries that need only a part.
///
/// @par Thread safety
/// As stated by each type's own header.

#include <afterwork/http/app.hpp>
#include <afterwork/http/app_state.hpp>
#include <afterwork/http/background_tasks.hpp>
#include <afterwork/http/errors.hpp>
#include <afterwork/http/json_binding.hpp>
#include <afterwork/http/request.hpp>
#include <afterwork/http/response.hpp>
#include <afterwork/jobs/job.hpp>
#include <afterwork/jobs/job_context.hpp>
#include <afterwork/jobs/job_json.hpp>
#include <afterwork/jobs/memory_store.hpp>
#include <afterwork/jobs/queue.hpp>
#include <afterwork/jobs/sqlite_store.hpp>
#include <afterwork/jobs/store.hpp>
#include <afterwork/jobs/store_url.hpp>
#include <afterwork/jobs/worker.hpp>
#include <afterwork/observe/health.hpp>
#include <afterwork/observe/jobs_api.hpp>
#include <afterwork/observe/request_metrics.hpp>
#include <afterwork/observe/schedule_status.hpp>
#include <afterwork/observe/task_status.hpp>
#include <afterwork/runtime/blocking_pool.hpp>
#include <afterwork/runtime/cancellation.hpp>
#include <afterwork/runtime/clock.hpp>
#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/outcome.hpp>
#include <afterwork/runtime/recurring.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_group.hpp>
#include <afterwork/runtime/task_handle.hpp>
#include <afterwork/runtime/use_task.hpp>
#include <afterwork/schedule/cron_expression.hpp>
#include <afterwork/schedule/periodic.hpp>
#include <afterwork/schedule/schedule_error.hpp>
#include <afterwork/schedule/schedule_store.hpp>
#include <afterwork/schedule/scheduler.hpp>
#include <afterwork/schedule/time_zone.hpp>
#include <afterwork/schedule/trigger.hpp>
#include <afterwork/testing/test_client.hpp>
