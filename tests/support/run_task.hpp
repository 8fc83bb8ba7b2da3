// SPDX-License-Identifier: MIT
#pragma once

// testing::run_task: runs a coroutine to completion on a fresh io_context and returns its
// result; a task still running after `timeout` fails the test instead of hanging it.

#include <chrono>
#include <stdexcept>

#include <boost/asio/io_context.hpp>

#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork::testing {

template <class T>
T run_task(Task<T> task, std::chrono::steady_clock::duration timeout = std::chrono::seconds(10)) {
    boost::asio::io_context context(1);
    auto handle = spawn(context.get_executor(), std::move(task));
    // A context has work while it has tasks, so this returns once the task has ended.
    context.run_for(timeout);
    if (!handle.done()) throw std::runtime_error("run_task: the task did not finish in time");
    return handle.get();
}

}  // namespace afterwork::testing
