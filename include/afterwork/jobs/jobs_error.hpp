// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The failures of the jobs layer and `JobsResult<T>`, the `boost::system::result` every
/// `Store` operation returns.
///
/// Two kinds share one category. Caller errors (`not_found`, `duplicate`, `invalid_state`,
/// `lease_lost`, `invalid_argument`) say the call made no sense for the job as it is now; the
/// REST API maps them to 404/409/409/409/422. Storage errors (`busy`, `corrupt`, `read_only`,
/// `full`, `io_error`, `unavailable`, `version_mismatch`) say the store could not do the work;
/// they map to 503 (busy, unavailable) or 500. Either way the failed call changed nothing.

#include <stdexcept>
#include <string>
#include <type_traits>

#include <boost/assert/source_location.hpp>
#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace afterwork {

/// What went wrong. Spelled as in logs and JSON error bodies; the values are stable.
enum class JobsErrc {
    not_found = 1,     ///< no job has that id (never existed, or removed or purged)
    duplicate,         ///< a unique key is held by another active job (retry of a deduped job)
    invalid_state,     ///< the job's state does not allow it (retrying a running job, ...)
    lease_lost,        ///< the worker no longer holds the job's lease (expired and reclaimed)
    invalid_argument,  ///< malformed input: empty name, priority out of range, bad JSON, ...
    busy,              ///< the store stayed locked by another writer past its busy timeout
    corrupt,           ///< the store's data is damaged or is not a job store at all
    read_only,         ///< the store can be read but not written
    full,              ///< the disk or the configured size limit is full
    io_error,          ///< the operating system failed a read or a write
    unavailable,       ///< the store cannot be opened or reached
    version_mismatch,  ///< the store's schema is newer than this build understands
};

/// The `boost::system` category of `JobsErrc` (name "afterwork.jobs").
/// @par Thread safety
/// Thread-safe (a constant).
const boost::system::error_category& jobs_category() noexcept;

/// `JobsErrc` as an error code of `jobs_category()`.
boost::system::error_code make_error_code(JobsErrc e) noexcept;

/// True for the codes that describe the store rather than the call (`busy` and after): a
/// caller may retry those later, and the REST API answers them with 5xx.
constexpr bool is_storage_error(JobsErrc e) noexcept { return e >= JobsErrc::busy; }

/// A failure of the jobs layer: a code to branch on and a one-line message for people that
/// names what was wrong, e.g. `job 42 is running; only dead, failed or cancelled jobs can be
/// retried` or `jobs[2].priority: 150 is out of range -100..100`.
///
/// It is both the error value of `JobsResult<T>` and the exception `JobsResult<T>::value()`
/// throws. A default-constructed one (required by `boost::system::result`) has no code and no
/// message.
///
/// @par Thread safety
/// Distinct objects safe, shared unsafe (immutable after construction, so sharing a const one
/// is safe).
class JobsError : public std::runtime_error {
public:
    JobsError() : std::runtime_error(std::string()) {}
    JobsError(JobsErrc code, const std::string& message)
        : std::runtime_error(message), code_(code) {}

    /// The code; `JobsErrc{}` for a default-constructed error.
    JobsErrc code() const noexcept { return code_; }
    /// The code as a `boost::system::error_code`.
    boost::system::error_code error_code() const noexcept { return make_error_code(code_); }

private:
    JobsErrc code_{};
};

/// Lets `JobsResult<T>::value()` throw the `JobsError` it holds (found by ADL).
[[noreturn]] void throw_exception_from_error(const JobsError& error,
                                             const boost::source_location& location);

/// The result of every `Store` operation: a `T` or a `JobsError`. `value()` throws the error;
/// `has_value()`, `*r` and `r.error()` never throw.
template <class T>
using JobsResult = boost::system::result<T, JobsError>;

}  // namespace afterwork

template <>
struct boost::system::is_error_code_enum<afterwork::JobsErrc> : std::true_type {};
