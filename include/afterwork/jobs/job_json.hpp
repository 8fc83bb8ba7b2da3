// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The JSON shape of a job and of queue depths, shared by everything that shows them to people
/// or scripts (the REST API, `afterwork jobs ... --json`, the reference service), so a field
/// is spelled the same everywhere.
///
/// A job: `{"id","name","queue","priority","state","attempt","max_attempts","unique_key",
/// "args","created_at","run_at","started_at","finished_at","lease_owner","lease_until",
/// "cancel_requested","progress","progress_message","result","errors":[{"attempt","message",
/// "at"}],"expires_at"}`; instants in ISO 8601 UTC, absent ones `null`; `args` and `result` as
/// the JSON values they are.
///
/// @par Thread safety
/// Pure functions: safe from any thread.

#include <span>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <afterwork/jobs/job.hpp>
#include <afterwork/jobs/store.hpp>

namespace afterwork {

boost::json::object job_to_json(const JobRecord& job);

/// `[{"queue","counts":{"scheduled":n,...every state...},"total"}]`.
boost::json::array counts_to_json(std::span<const QueueCounts> counts);

}  // namespace afterwork
