// SPDX-License-Identifier: MIT
// The app's lifecycle: `App::start` (loops, pools, signals, the listener, the lifespan, the
// startup hooks, then the scheduler, the periodic and supervised tasks and the job worker),
// `App::serving`, the hooks, and the shutdown: one coroutine that stops the app's services in
// order, then runs the shutdown hooks and the lifespan's tail. Apart from the facade and from
// request handling because it changes with the order of start and stop.
#include "http/app_core.hpp"

#include <algorithm>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <afterwork/runtime/use_task.hpp>

#include "http/server.hpp"

namespace afterwork {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace detail {

namespace {

// Startup stops at the first failure; shutdown runs every hook (each may close a resource)
// and logs the failures. Returns the startup failure as text: the exception itself stays on
// the loop thread (libstdc++'s exception_ptr count is invisible to ThreadSanitizer).
Task<std::string> run_hook_list(AppCore* app, std::vector<App::Hook> hooks,
                                bool isolate_failures) {
    for (auto& hook : hooks) {
        std::string failure;
        try {
            co_await hook(app->app);
        } catch (...) {
            failure = describe_exception(std::current_exception());
        }
        if (failure.empty()) continue;
        if (!isolate_failures) co_return failure;
        spdlog::error("a shutdown hook failed: {}", failure);
    }
    co_return std::string{};
}

Task<void> run_lifespan(AppCore* app) {
    std::string error;
    try {
        co_await app->lifespan(app->app);
    } catch (...) {
        error = describe_exception(std::current_exception());
    }
    {
        std::lock_guard lock(app->mutex);
        app->lifespan_finished = true;
        app->lifespan_error = error;
        app->changed.notify_all();
    }
    app->lifespan_ended.set();
}

// One step of the shutdown: asks `service` to stop and waits for it until `deadline`. A stop
// that throws is logged, and the shutdown goes on with the next step.
Task<void> stop_service(Service& service, SteadyClock::time_point deadline, std::string what) {
    spdlog::info("stopping {}", what);
    std::string failure;
    bool stopped = false;
    // The await is a statement of its own: g++ 12 mishandles a co_await inside a condition.
    try {
        stopped = co_await service.stop(deadline);
    } catch (...) {
        failure = describe_exception(std::current_exception());
    }
    if (stopped) co_return;
    if (failure.empty()) {
        spdlog::warn("{} did not stop in time", what);
    } else {
        spdlog::error("stopping {} failed: {}", what, failure);
    }
}

}  // namespace

// First signal: graceful stop. A second one: stop waiting for stragglers.
Task<void> watch_signals(AppCore* app, std::shared_ptr<asio::signal_set> signals) {
    for (;;) {
        boost::system::error_code ec;
        int signal = co_await signals->async_wait(asio::redirect_error(use_task, ec));
        if (ec) co_return;
        bool again = false;
        {
            std::lock_guard lock(app->mutex);
            again = app->stop_requested;
            app->stop_requested = true;
            app->changed.notify_all();
        }
        if (!again) {
            spdlog::info("received {}: shutting down gracefully (send it again to hurry)",
                         signal == SIGINT ? "SIGINT" : "SIGTERM");
        } else {
            spdlog::warn("second signal: not waiting any longer for requests and tasks");
            app->hurry();
        }
    }
}

void AppCore::hurry() noexcept {
    // The server exists before this watcher starts, and goes after it ended.
    if (server) server->hurry();
    background.hurry();
}

void AppCore::run_startup_hooks() {
    if (startup_hooks.empty()) return;
    auto failure =
        afterwork::spawn(loops.front()->executor(), run_hook_list(this, startup_hooks, false))
            .get();
    if (!failure.empty()) throw std::runtime_error(failure);
}


void AppCore::start_recurring() {
    {
        std::lock_guard lock(scheduler_mutex);
        scheduler_locked().start(loops.front()->executor());
    }
    // The scheduler's clock (a test's manual clock) is theirs too, unless they chose one.
    std::shared_ptr<Clock> clock = scheduler_options ? scheduler_options->clock : nullptr;
    for (std::size_t i = 0; i < recurring_specs.size(); ++i) {
        auto& spec = recurring_specs[i];
        // Spread them over the loops; each stays on its loop.
        const auto& executor = loops[i % loops.size()]->executor();
        if (spec.supervised) {
            if (!spec.supervisor.clock) spec.supervisor.clock = clock;
            supervisors.emplace_back(executor, spec.name, spec.function, spec.supervisor);
        } else {
            if (!spec.periodic.clock) spec.periodic.clock = clock;
            periodic_tasks.emplace_back(executor, spec.name, spec.interval, spec.function,
                                        spec.periodic);
        }
    }
}

std::vector<std::pair<Service*, std::string>> AppCore::recurring_services() {
    std::vector<std::pair<Service*, std::string>> services;
    {
        std::lock_guard lock(scheduler_mutex);
        if (scheduler) services.emplace_back(scheduler.get(), "schedules");
    }
    for (auto& task : periodic_tasks) {
        services.emplace_back(&task, fmt::format("periodic task {}", task.service_name()));
    }
    for (auto& supervisor : supervisors) {
        services.emplace_back(&supervisor,
                              fmt::format("supervised task {}", supervisor.service_name()));
    }
    return services;
}

void AppCore::start_jobs_worker() {
    std::lock_guard lock(jobs_mutex);
    if (!jobs || jobs->names().empty()) return;
    auto options = jobs_options.value_or(AppJobsOptions{});
    if (!options.run_worker) return;
    // The last loop: loop 0 also carries the lifespan, signals and the scheduler.
    jobs_worker = std::make_unique<Worker>(*jobs, loops.back()->executor(), options.worker);
    jobs_worker->start();
}

void AppCore::release_runtime() {
    // The worker's tasks run on the loops: it goes while they still run.
    jobs_worker.reset();
    for (auto& loop : loops) loop->stop();
    for (auto& loop : loops) loop->join();
    // Pools first: their last completions post to stopped loops, which still exist. Then the
    // loops, whose destruction frees suspended coroutines that may still refer to the server.
    handler_pool.reset();
    background.release();
    // I/O objects must go before their io_context; those owned by suspended coroutines go
    // with the loop's destruction itself.
    if (server) server->drop_listener();
    periodic_tasks.clear();
    supervisors.clear();
    cancel_signals = nullptr;
    signals.reset();
    loops.clear();
    server.reset();
    lifecycle_group.reset();
}

void AppCore::stop_ladder() {
    {
        std::unique_lock lock(mutex);
        if (phase == Phase::stopping || phase == Phase::stopped) {
            changed.wait(lock, [&] { return phase == Phase::stopped; });
            return;
        }
        if (phase != Phase::serving) return;
        phase = Phase::stopping;
    }
    const auto started = SteadyClock::now();
    const auto deadline = started + options.drain_timeout;
    spdlog::info("shutting down: finishing requests and background tasks (drain timeout {} ms)",
                 options.drain_timeout.count());
    // Loop 0 carries the lifespan and the hooks, which the shutdown runs in turn. Every step
    // is bounded or ends with the work it waits for; the lifespan's tail is the user's.
    afterwork::spawn(loops.front()->executor(), shutdown(deadline),
                     SpawnOptions{.name = "shutdown"})
        .get();
    state.thaw();
    release_runtime();
    spdlog::info("shutdown complete in {} ms",
                 std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started)
                     .count());
    std::lock_guard lock(mutex);
    phase = Phase::stopped;
    changed.notify_all();
}

// The order, and why each step is where it is (docs/architecture.md, Shutdown):
//  1. the job worker stops claiming: jobs are durable, another worker or the next start takes
//     them — the only intake stopped before the server's drain, since nothing waits on it;
//  2. the server: no new connection, in-flight requests finish (they may still add background
//     tasks, so the runner's gate stays open until here);
//  3. the background runner: its tasks and App::spawn ones finish or are cancelled;
//  4. the job worker's running jobs finish or are cancelled, and their leases are released;
//  5. the scheduler, periodic and supervised tasks;
//  6. the shutdown hooks, then the lifespan's tail: they close what all of the above used.
Task<void> AppCore::shutdown(SteadyClock::time_point deadline) {
    if (jobs_worker) jobs_worker->request_stop();
    // Labels are locals: g++ 12 destroys temporaries inside a co_await expression twice.
    if (server) {
        std::string what(server->service_name());
        co_await stop_service(*server, deadline, std::move(what));
    }
    {
        std::string what(background.service_name());
        co_await stop_service(background, deadline, std::move(what));
    }

    if (cancel_signals) cancel_signals();

    // Running durable jobs get what is left of the deadline, then are cancelled and their
    // leases released so another worker takes them at once (attempt not counted) — before the
    // lifespan shutdown closes what they use.
    if (jobs_worker) {
        std::string what = "job worker " + jobs_worker->id();
        co_await stop_service(*jobs_worker, deadline, std::move(what));
    }

    // Schedules, periodic and supervised tasks stop before the shutdown hooks close what they
    // use; all are asked at once, then each gets its five seconds.
    {
        auto services = recurring_services();
        for (auto& [service, what] : services) service->request_stop();
        const auto recurring_deadline = SteadyClock::now() + std::chrono::seconds(5);
        for (auto& [service, what] : services) {
            co_await stop_service(*service, recurring_deadline, std::move(what));
        }
    }

    // Lifespan shutdown: hooks in reverse order, then the lifespan coroutine's tail.
    if (!shutdown_hooks.empty()) {
        spdlog::info("running the shutdown hooks");
        std::vector<App::Hook> hooks(shutdown_hooks.rbegin(), shutdown_hooks.rend());
        co_await run_hook_list(this, std::move(hooks), true);
    }
    if (lifespan) {
        {
            std::lock_guard lock(mutex);
            shutdown_started = true;
        }
        serving_ends.set();
        co_await lifespan_ended.wait();
        std::lock_guard lock(mutex);
        if (!lifespan_error.empty()) spdlog::error("lifespan shutdown failed: {}", lifespan_error);
    }
}

}  // namespace detail

Task<void> App::serving() {
    auto& core = *core_;
    {
        std::lock_guard lock(core.mutex);
        if (core.lifespan_serving) throw std::logic_error("app.serving() awaited twice");
        core.lifespan_serving = true;
        core.changed.notify_all();
    }
    // Ends when the shutdown reaches the lifespan's turn; a cancelled lifespan task ends here
    // with operation_aborted instead.
    co_await core.serving_ends.wait();
}

void App::start(const ServeOptions& options) {
    auto& core = *core_;
    {
        std::lock_guard lock(core.mutex);
        if (core.phase != detail::AppCore::Phase::idle) {
            throw std::logic_error("an App starts once");
        }
        core.phase = detail::AppCore::Phase::starting;
    }
    core.options = options;
    unsigned threads = options.threads ? options.threads
                                       : std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < threads; ++i) {
        core.loops.push_back(std::make_unique<Loop>(fmt::format("loop-{}", i)));
        core.loops.back()->start();
    }
    core.handler_pool = std::make_unique<BlockingPool>(
        BlockingPoolOptions{"handlers", options.handler_threads, 10'000});
    core.background.start(options.background_threads, options.background_queue_limit);
    core.lifecycle_group = std::make_unique<TaskGroup>("lifespan");
    // Before the signal watcher, which may hurry it.
    if (options.listen) core.server = std::make_unique<detail::Server>(core);
    if (options.handle_signals) {
        // From here on, SIGINT/SIGTERM ask for a graceful stop: one arriving during startup
        // makes `wait()` return as soon as the app serves.
        auto signals = std::make_shared<asio::signal_set>(core.loops.front()->executor(),
                                                          SIGINT, SIGTERM);
        core.signals = signals;
        core.cancel_signals = [signals] {
            asio::post(signals->get_executor(), [signals] { signals->cancel(); });
        };
        core.lifecycle_group->spawn(core.loops.front()->executor(),
                                    detail::watch_signals(&core, signals), "signals");
    }

    std::string failure;
    try {
        if (core.server) core.server->bind(options.host, options.port);
        if (core.lifespan) {
            core.lifecycle_group->spawn(core.loops.front()->executor(),
                                        detail::run_lifespan(&core), "lifespan");
            std::unique_lock lock(core.mutex);
            core.changed.wait(lock, [&] { return core.lifespan_serving || core.lifespan_finished; });
            if (!core.lifespan_serving) {
                throw std::runtime_error(
                    core.lifespan_error.empty()
                        ? "the lifespan returned without co_await app.serving()"
                        : core.lifespan_error);
            }
        }
        core.run_startup_hooks();
        core.start_recurring();
        core.start_jobs_worker();
    } catch (...) {
        failure = describe_exception(std::current_exception());
    }
    if (!failure.empty()) {
        // Let a lifespan that reached serving() clean up what it opened.
        if (core.lifespan_serving && !core.lifespan_finished) {
            {
                std::lock_guard lock(core.mutex);
                core.shutdown_started = true;
            }
            core.serving_ends.set();
            std::unique_lock lock(core.mutex);
            core.changed.wait(lock, [&] { return core.lifespan_finished; });
        }
        core.release_runtime();
        {
            std::lock_guard lock(core.mutex);
            core.phase = detail::AppCore::Phase::stopped;
        }
        throw StartupError("startup failed: " + failure);
    }
    core.state.freeze();
    if (core.server) {
        core.server->start_accepting();
        spdlog::info("serving on http://{}:{} with {} loop thread(s)", options.host,
                     core.server->port(), threads);
    }
    std::lock_guard lock(core.mutex);
    core.phase = detail::AppCore::Phase::serving;
    core.changed.notify_all();
}

}  // namespace afterwork
