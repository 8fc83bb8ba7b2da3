// SPDX-License-Identifier: MIT
#pragma once

// testing::run_task: runs a coroutine to completion on a fresh io_context and returns its
// result; a task still running after `timeout` fails the test instead of hanging it.

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork::testing {

namespace detail {
// Stops the context once the task has ended: a task waiting on an event holds no Asio work,
// so the context runs under a work guard until then.
template <class T>
Task<void> stop_when_done(TaskHandle<T> handle, boost::asio::io_context* context) {
    try {
        co_await handle.wait_shielded();
    } catch (...) {
    }
    context->stop();
}
}  // namespace detail

template <class T>
T run_task(Task<T> task, std::chrono::steady_clock::duration timeout = std::chrono::seconds(10)) {
    boost::asio::io_context context(1);
    auto guard = boost::asio::make_work_guard(context);
    auto handle = spawn(context.get_executor(), std::move(task));
    auto watcher = spawn(context.get_executor(), detail::stop_when_done(handle, &context));
    context.run_for(timeout);
    if (!handle.done()) throw std::runtime_error("run_task: the task did not finish in time");
    return handle.get();
}

}  // namespace afterwork::testing
