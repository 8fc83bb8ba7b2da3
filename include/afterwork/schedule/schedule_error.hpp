// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The expected failures of the schedule layer (a bad cron expression, an unknown time zone, a
/// bad interval or instant) and `ScheduleResult<T>`, the `boost::system::result` the `try_`
/// functions return.

#include <stdexcept>
#include <string>
#include <type_traits>

#include <boost/assert/source_location.hpp>
#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace afterwork {

/// What was wrong with the input. Spelled as in logs; the values are stable.
enum class ScheduleErrc {
    invalid_cron = 1,    ///< a cron expression that does not parse, or that can never fire
    unknown_time_zone,   ///< a zone name the tz database does not know
    invalid_interval,    ///< an interval of zero or less, or an end before the start
    invalid_time,        ///< an ISO 8601 instant that does not parse or is out of range
    invalid_trigger,     ///< a serialised trigger of an unknown kind or with a malformed body
    duplicate_schedule,  ///< a schedule id that is already taken in the scheduler
    unknown_schedule,    ///< a schedule id that is not in the scheduler
    invalid_option,      ///< a schedule option out of range (negative grace, no function)
};

/// The `boost::system` category of `ScheduleErrc` (name "afterwork.schedule").
/// @par Thread safety
/// Thread-safe (a constant).
const boost::system::error_category& schedule_category() noexcept;

/// `ScheduleErrc` as an error code of `schedule_category()`.
boost::system::error_code make_error_code(ScheduleErrc e) noexcept;

/// An expected failure of the schedule layer: a code to branch on and a one-line message for
/// people that names what was wrong, e.g. `hour: "25" is out of range 0-23` or
/// `unknown time zone "Mars/Olympus"`.
///
/// It is both the error value of `ScheduleResult<T>` and the exception the throwing twins
/// (`CronExpression::parse`, `TimeZone::locate`, the trigger constructors) throw. A
/// default-constructed one (required by `boost::system::result`) has no code and no message.
///
/// @par Thread safety
/// Distinct objects safe, shared unsafe (immutable after construction, so sharing a const one
/// is safe).
class ScheduleError : public std::runtime_error {
public:
    ScheduleError() : std::runtime_error(std::string()) {}
    ScheduleError(ScheduleErrc code, const std::string& message)
        : std::runtime_error(message), code_(code) {}

    /// The code; `ScheduleErrc{}` for a default-constructed error.
    ScheduleErrc code() const noexcept { return code_; }
    /// The code as a `boost::system::error_code`.
    boost::system::error_code error_code() const noexcept { return make_error_code(code_); }

private:
    ScheduleErrc code_{};
};

/// Lets `ScheduleResult<T>::value()` throw the `ScheduleError` it holds (found by ADL).
[[noreturn]] void throw_exception_from_error(const ScheduleError& error,
                                             const boost::source_location& location);

/// The result of the schedule layer's `try_` functions: a `T` or a `ScheduleError`.
/// `value()` throws the error; `has_value()`, `*r` and `r.error()` never throw.
template <class T>
using ScheduleResult = boost::system::result<T, ScheduleError>;

}  // namespace afterwork

template <>
struct boost::system::is_error_code_enum<afterwork::ScheduleErrc> : std::true_type {};
