// SPDX-License-Identifier: MIT
// The `App` facade: its public members, which mostly forward to `detail::AppCore`, and the
// core's construction. Request handling, the background runner and the lifecycle (start,
// hooks, lifespan, signals, shutdown) live in dispatch.cpp, background_runner.cpp and
// lifecycle.cpp.
#include <afterwork/http/app.hpp>

#include <random>

#include <spdlog/spdlog.h>

#include <afterwork/jobs/memory_store.hpp>

#include "http/app_core.hpp"
#include "http/server.hpp"

namespace afterwork {

using SteadyClock = std::chrono::steady_clock;

namespace detail {

AppCore::AppCore(App& owner)
    : app(owner), background([this]() -> Queue& {
          std::lock_guard lock(jobs_mutex);
          return jobs_locked();
      }) {
    std::random_device random;
    request_id_seed = (std::uint64_t{random()} << 32) ^ random();
}

AppCore::~AppCore() = default;

Queue& AppCore::jobs_locked() {
    if (!jobs) {
        auto options = jobs_options.value_or(AppJobsOptions{});
        auto store = options.store ? options.store : std::make_shared<MemoryStore>();
        jobs = std::make_unique<Queue>(std::move(store), std::move(options.queue));
    }
    return *jobs;
}

}  // namespace detail

App::App() : core_(std::make_unique<detail::AppCore>(*this)) {}

App::~App() {
    try {
        stop();
    } catch (...) {
        // A destructor cannot report it; stop() already logged what failed.
    }
}

void App::add_route(std::string_view method, std::string_view pattern, Handler handler) {
    core_->router.add(method, pattern, std::move(handler));
}

void App::use(Middleware middleware) { core_->middlewares.push_back(std::move(middleware)); }

void App::add_exception_handler(ExceptionHandler handler) {
    core_->exception_handlers.push_back(std::move(handler));
}

void App::add_startup(Hook hook) { core_->startup_hooks.push_back(std::move(hook)); }
void App::add_shutdown(Hook hook) { core_->shutdown_hooks.push_back(std::move(hook)); }
void App::lifespan(Hook lifespan) { core_->lifespan = std::move(lifespan); }

void App::add_periodic(std::chrono::milliseconds interval, std::string name,
                       RecurringFunction function, PeriodicOptions options) {
    if (interval.count() <= 0) {
        throw std::invalid_argument("periodic task " + name + ": the interval must be positive");
    }
    core_->recurring_specs.push_back({.supervised = false,
                                      .name = std::move(name),
                                      .interval = interval,
                                      .function = std::move(function),
                                      .periodic = options,
                                      .supervisor = {}});
}

void App::add_supervised(std::string name, RecurringFunction factory, SupervisorOptions options) {
    core_->recurring_specs.push_back({.supervised = true,
                                      .name = std::move(name),
                                      .interval = {},
                                      .function = std::move(factory),
                                      .periodic = {},
                                      .supervisor = options});
}

Scheduler& detail::AppCore::scheduler_locked() {
    if (!scheduler) {
        auto options = scheduler_options.value_or(SchedulerOptions{.name = "app"});
        scheduler = std::make_unique<Scheduler>(std::move(options));
    }
    return *scheduler;
}

Scheduler& App::scheduler() {
    std::lock_guard lock(core_->scheduler_mutex);
    return core_->scheduler_locked();
}

void App::configure_scheduler(SchedulerOptions options) {
    auto& core = *core_;
    std::lock_guard lock(core.scheduler_mutex);
    if (core.scheduler) {
        throw std::logic_error("App::configure_scheduler: the scheduler is already in use");
    }
    core.scheduler_options = std::move(options);
}

Executor App::spawn_executor() {
    auto& core = *core_;
    {
        std::lock_guard lock(core.mutex);
        if (core.phase != detail::AppCore::Phase::serving) {
            throw std::logic_error("App::spawn: the app is not serving");
        }
    }
    for (const auto& loop : core.loops) {
        if (loop->running_in_this_thread()) return loop->executor();
    }
    return core.loops[core.next_spawn_loop.fetch_add(1) % core.loops.size()]->executor();
}

std::vector<RecurringStatus> App::recurring_status() const {
    std::vector<RecurringStatus> list;
    for (const auto& task : core_->periodic_tasks) list.push_back(task.status());
    for (const auto& supervisor : core_->supervisors) list.push_back(supervisor.status());
    return list;
}

TaskGroup& App::spawned_group() noexcept { return core_->background.spawned(); }

AppState& App::state() noexcept { return core_->state; }

std::uint16_t App::port() const noexcept {
    return core_->server ? core_->server->port() : 0;
}

const ServeOptions& App::options() const noexcept { return core_->options; }

void App::request_stop() noexcept {
    std::lock_guard lock(core_->mutex);
    core_->stop_requested = true;
    core_->changed.notify_all();
}

void App::wait() {
    auto& core = *core_;
    std::unique_lock lock(core.mutex);
    core.changed.wait(lock, [&] { return core.stop_requested; });
}

void App::stop() { core_->stop_ladder(); }

Queue& App::jobs() {
    std::lock_guard lock(core_->jobs_mutex);
    return core_->jobs_locked();
}

void App::configure_jobs(AppJobsOptions options) {
    auto& core = *core_;
    std::lock_guard lock(core.jobs_mutex);
    if (core.jobs) throw std::logic_error("App::configure_jobs: the job queue is already in use");
    core.jobs_options = std::move(options);
}

Worker* App::jobs_worker() noexcept { return core_->jobs_worker.get(); }

int App::run(const ServeOptions& options) {
    try {
        start(options);
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
    wait();
    stop();
    return 0;
}

bool App::wait_background_idle(std::chrono::milliseconds timeout) {
    auto& core = *core_;
    const auto deadline = SteadyClock::now() + timeout;
    if (core.background.tasks_done() || core.loops.empty()) return core.background.tasks_done();
    // The wait is a task on loop 0; this thread only waits for its end (bounded, in case it is
    // a loop thread that the task needs).
    auto waiting =
        afterwork::spawn(core.loops.front()->executor(), core.background.wait_tasks_done(deadline),
                         SpawnOptions{.name = "wait background idle"});
    if (!waiting.wait_for(timeout + std::chrono::seconds(1))) {
        waiting.cancel();
        return false;
    }
    return waiting.get();
}

BackgroundStats App::background_stats() const noexcept { return core_->background.stats(); }

}  // namespace afterwork
