// SPDX-License-Identifier: MIT
#include <afterwork/runtime/loop.hpp>

#include <atomic>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "runtime/foreign_post.hpp"
#include "runtime/thread_start.hpp"

namespace afterwork {

namespace asio = boost::asio;

namespace {
thread_local Loop* current_loop = nullptr;
}  // namespace

Loop* Loop::current() noexcept { return current_loop; }

namespace detail {
std::atomic<int>& foreign_posts() noexcept {
    static std::atomic<int> count{0};
    return count;
}

void wait_for_foreign_posts() noexcept {
    for (int spins = 0; foreign_posts().load() != 0; ++spins) {
        if (spins > 64) std::this_thread::yield();
    }
}
}  // namespace detail

struct Loop::State {
    explicit State(std::string n) : name(std::move(n)), context(1), guard(context.get_executor()) {}
    std::string name;
    asio::io_context context;  // concurrency hint 1: only this loop's thread runs it
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
    std::atomic<bool> stopped{false};  // makes stop() idempotent from any thread
    std::thread thread;
};

Loop::Loop(std::string name) : state_(std::make_unique<State>(std::move(name))) {}

Loop::~Loop() {
    stop();
    if (state_->thread.joinable()) state_->thread.join();
    // A post into the context still in flight is waited for by the context's task registry
    // when the context is destroyed (task_handle.cpp).
}

void Loop::start() {
    detail::before_thread_start();
    state_->thread = std::thread([this, state = state_.get()] {
        current_loop = this;
        for (;;) {
            try {
                state->context.run();
                return;
            } catch (const std::exception& e) {
                // A handler must not throw; keep the loop alive rather than lose every task on it.
                spdlog::error("loop {}: a handler threw: {}", state->name, e.what());
            }
        }
    });
}

void Loop::stop() noexcept {
    if (state_->stopped.exchange(true)) return;
    // The guard is released on the loop itself, so only that thread ever touches it.
    asio::post(state_->context, [state = state_.get()] { state->guard.reset(); });
    state_->context.stop();
}

void Loop::join() {
    if (state_->thread.joinable()) state_->thread.join();
}

Executor Loop::executor() const noexcept { return state_->context.get_executor(); }

bool Loop::running_in_this_thread() const noexcept {
    return state_->context.get_executor().running_in_this_thread();
}

const std::string& Loop::name() const noexcept { return state_->name; }

}  // namespace afterwork
