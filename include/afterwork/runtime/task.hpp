// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Task<T>`: the coroutine type of afterwork, an Asio `awaitable` on `any_io_executor`.
///
/// A `Task` does nothing until it is awaited or spawned (through `TaskGroup` or the app), and
/// it resumes on the executor it was started on. Coroutine parameters should be owned values:
/// a `Task` may outlive the caller's locals.
///
/// @par Thread safety
/// A task object is used by one thread at a time (it is moved into the loop that runs it).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <exception>
#include <string>
#include <type_traits>

namespace afterwork {

template <class T = void>
using Task = boost::asio::awaitable<T, boost::asio::any_io_executor>;

/// The executor of the loop a task runs on.
using Executor = boost::asio::any_io_executor;

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<Task<T>> : std::true_type {};
template <class T>
inline constexpr bool is_task_v = is_task<std::remove_cvref_t<T>>::value;

/// True for the exception a cancelled operation ends with (`operation_aborted`). Cancellation is
/// not a failure: catch it only to clean up, then rethrow, and never log it as an error.
bool is_cancellation(const std::exception_ptr& error) noexcept;

/// The message of `error` for a log line: `what()`, or a placeholder for a non-standard
/// exception; empty for null.
std::string describe_exception(const std::exception_ptr& error);

}  // namespace afterwork
