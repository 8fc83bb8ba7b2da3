// SPDX-License-Identifier: MIT
#pragma once

// What a SqliteStore holds: the file, its one connection and the mutex that serialises it, and
// the helpers every operation runs its SQL through (a write transaction, a read, a change of
// one job). Private to the store's files: sqlite_store.cpp (open, enqueue, the changes of one
// job, listings), claim.cpp (claim, completion, leases), schedule_store.cpp.

#include <filesystem>
#include <mutex>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <afterwork/jobs/sqlite_store.hpp>

#include "jobs/checks.hpp"
#include "jobs/sqlite/connection.hpp"
#include "jobs/sqlite/row_codec.hpp"

namespace afterwork {

struct SqliteStore::State {
    State(std::filesystem::path file, const SqliteOptions& options, bool immutable_file = false)
        : path(std::move(file)),
          immutable(immutable_file),
          connection(immutable ? detail::sqlite::immutable_uri(path) : path.string(),
                     detail::sqlite::open_flags(options) | (immutable ? SQLITE_OPEN_URI : 0),
                     options.busy_timeout,
                     path.string()) {}

    std::filesystem::path path;
    bool immutable = false;  // see SqliteStore::immutable
    std::mutex mutex;
    detail::sqlite::Connection connection;

    // Runs `body` (returning JobsResult<T>) in one IMMEDIATE transaction under the mutex; it
    // commits only when the body succeeds. A JobsError thrown by the SQL layer or the body
    // rolls back and becomes the result.
    template <class F>
    auto write(F&& body) -> decltype(body()) {
        std::lock_guard lock(mutex);
        try {
            detail::sqlite::WriteTransaction transaction(connection);
            auto result = body();
            if (result) transaction.commit();
            return result;
        } catch (const JobsError& error) {
            return error;
        }
    }

    // A read: one statement sees one snapshot, so no transaction is needed.
    template <class F>
    auto read(F&& body) -> decltype(body()) {
        std::lock_guard lock(mutex);
        try {
            return body();
        } catch (const JobsError& error) {
            return error;
        }
    }

    // Loads job `id`, applies `change` (returning JobsResult<T>) to a copy and saves what
    // changed, in one transaction; nothing is written when `change` fails.
    template <class F>
    auto change_job(JobId id, F&& change) -> decltype(change(std::declval<JobRecord&>())) {
        return write([&]() -> decltype(change(std::declval<JobRecord&>())) {
            const auto job = detail::sqlite::load_job(connection, id);
            if (!job) return detail::not_found(id);
            JobRecord next = *job;
            auto result = change(next);
            if (result) detail::sqlite::save_job(connection, *job, next);
            return result;
        });
    }

    // Everything a claim does inside its transaction (claim.cpp).
    std::vector<JobRecord> claim(const ClaimRequest& request);

    // Everything a complete_many does inside its transaction (claim.cpp); see
    // Store::complete_many.
    std::vector<JobsResult<void>> complete(std::string_view worker_id,
                                           std::span<const Completion> completions,
                                           TimePoint now);
};

}  // namespace afterwork
