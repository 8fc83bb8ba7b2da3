// SPDX-License-Identifier: MIT
#pragma once

// testing::run_task: runs a coroutine to completion on a fresh io_context and returns its
// result; a task still running after `timeout` fails the test instead of hanging it.

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <afterwork/runtime/task.hpp>

namespace afterwork::testing {

template <class T>
T run_task(Task<T> task, std::chrono::steady_clock::duration timeout = std::chrono::seconds(10)) {
    boost::asio::io_context context;
    std::exception_ptr error;
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> result;
    bool done = false;
    if constexpr (std::is_void_v<T>) {
        boost::asio::co_spawn(context, std::move(task), [&](std::exception_ptr e) {
            error = e;
            done = true;
        });
    } else {
        boost::asio::co_spawn(context, std::move(task), [&](std::exception_ptr e, T value) {
            error = e;
            if (!e) result.emplace(std::move(value));
            done = true;
        });
    }
    context.run_for(timeout);
    if (!done) throw std::runtime_error("run_task: the task did not finish in time");
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) return std::move(*result);
}

}  // namespace afterwork::testing
