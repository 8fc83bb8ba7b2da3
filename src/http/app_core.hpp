// SPDX-License-Identifier: MIT
#pragma once

// AppCore: everything behind `App` — routes, hooks, loops, pools, the server, the background
// task runner and the shutdown ladder. Configuration members are written before start and only
// read afterwards; counters are atomics; `mutex`/`changed` guard the lifecycle flags.
// Its members are defined by concern: app.cpp (construction, the scheduler and the job queue
// created on first use), dispatch.cpp (requests), background_runner.cpp (background tasks),
// lifecycle.cpp (start, hooks, lifespan, signals, services, the shutdown ladder).

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <afterwork/http/app.hpp>
#include <afterwork/runtime/blocking_pool.hpp>
#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/task_group.hpp>

#include "http/router.hpp"


namespace afterwork::detail {

class Server;

/// One request as the server parsed it, plus what routing and the app add.
struct RequestData {
    boost::beast::http::request<boost::beast::http::string_body> message;
    std::string_view path;      // percent-decoded: views the target or `decoded_path`
    std::string decoded_path;   // set only when the target had escapes
    std::string_view query_string;  // raw, views `message.target()`
    std::optional<std::vector<std::pair<std::string, std::string>>> query_params;  // lazily
    Router::Outcome outcome = Router::Outcome::not_found;
    RouteMatch match;  // views `path`: a RequestData is never moved after prepare()
    std::string request_id;
    AppCore* app = nullptr;
    Executor executor;
};

/// Per-request state shared by the middleware chain and the endpoint.
struct Dispatch {
    AppCore& app;
    BackgroundTasks& tasks;
    Router::Outcome outcome;
    bool handler_failed = false;
};

struct BackgroundCounters {
    std::atomic<std::uint64_t> scheduled{0};
    std::atomic<std::uint64_t> succeeded{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> abandoned{0};
    std::atomic<std::uint64_t> pending{0};
};

struct AppCore {
    explicit AppCore(App& owner);
    ~AppCore();

    // --- configuration (before start) ---
    App& app;
    Router router;
    std::vector<App::Middleware> middlewares;
    std::vector<App::ExceptionHandler> exception_handlers;
    std::vector<App::Hook> startup_hooks;
    std::vector<App::Hook> shutdown_hooks;
    App::Hook lifespan;
    struct RecurringSpec {
        bool supervised = false;
        std::string name;
        std::chrono::milliseconds interval{0};
        RecurringFunction function;
        PeriodicOptions periodic;
        SupervisorOptions supervisor;
    };
    std::vector<RecurringSpec> recurring_specs;
    std::optional<SchedulerOptions> scheduler_options;
    std::mutex scheduler_mutex;  // creation of `scheduler`
    std::unique_ptr<Scheduler> scheduler;
    Scheduler& scheduler_locked();  // creates it on first use; scheduler_mutex held
    std::mutex jobs_mutex;  // creation of `jobs`
    std::optional<AppJobsOptions> jobs_options;
    std::unique_ptr<Queue> jobs;
    Queue& jobs_locked();  // creates it on first use; jobs_mutex held
    std::unique_ptr<Worker> jobs_worker;  // set at start, read-only until the ladder stops it
    void start_jobs_worker();
    void stop_jobs_worker(std::chrono::steady_clock::time_point deadline);
    AppState state;
    ServeOptions options;

    // --- running ---
    std::vector<std::unique_ptr<Loop>> loops;
    std::unique_ptr<BlockingPool> handler_pool;
    std::unique_ptr<BlockingPool> background_pool;
    std::unique_ptr<TaskGroup> background_group;
    std::unique_ptr<TaskGroup> lifecycle_group;  // the lifespan coroutine
    std::unique_ptr<Server> server;
    // Started after the startup hooks, stopped in the shutdown ladder; read-only in between.
    std::vector<PeriodicTask> periodic_tasks;
    std::vector<Supervisor> supervisors;
    // Tasks started with App::spawn: the app's own group. It wakes the lifecycle waiters
    // when it empties.
    TaskGroup spawned{"app"};
    std::atomic<std::size_t> next_spawn_loop{0};
    BackgroundCounters background;
    BackgroundGate background_gate;
    std::atomic<std::uint64_t> request_counter{0};
    std::uint64_t request_id_seed = 0;

    // --- lifecycle, guarded by `mutex`, waited on with `changed` ---
    enum class Phase { idle, starting, serving, stopping, stopped };
    std::mutex mutex;
    std::condition_variable changed;
    std::atomic<int> waiters{0};      // threads waiting on `changed` for a counter
    Phase phase = Phase::idle;
    bool stop_requested = false;
    bool hurry = false;               // a second signal: skip the remaining waits
    bool lifespan_serving = false;    // the lifespan reached `serving()`
    bool lifespan_finished = false;
    bool shutdown_started = false;    // `serving()` may return
    std::string lifespan_error;       // what the lifespan threw, if it did
    Event serving_ends;               // set with `shutdown_started`: `serving()` returns
    std::shared_ptr<void> signals;    // the signal_set `wait()` listens on (loop 0)
    std::function<void()> cancel_signals;  // posts its cancellation

    /// Wakes every lifecycle waiter (after changing a flag or a counter they test). Free when
    /// nobody waits: `waiters` and the counters are seq_cst, so a waiter that registered
    /// after this load sees the new counter value in its predicate.
    void notify() {
        if (waiters.load() == 0) return;
        std::lock_guard lock(mutex);
        changed.notify_all();
    }
    /// Waits on `changed` for `done()` (under `mutex`) until `deadline`.
    template <class Predicate>
    bool wait_for_change(std::unique_lock<std::mutex>& lock,
                         std::chrono::steady_clock::time_point deadline, Predicate done) {
        waiters.fetch_add(1);
        bool result = changed.wait_until(lock, deadline, done);
        waiters.fetch_sub(1);
        return result;
    }
    /// Waits until `done()` holds, `hurry` is set or `deadline` passes; true when `done()`.
    template <class Predicate>
    bool wait_until(std::chrono::steady_clock::time_point deadline, Predicate done) {
        std::unique_lock lock(mutex);
        return wait_for_change(lock, deadline, [&] { return hurry || done(); }) && done();
    }
    /// Marks `count` background tasks as ended.
    void finish_background(std::uint64_t count) {
        if (background.pending.fetch_sub(count) == count) notify();
    }

    // --- requests ---
    /// Fills the derived fields of `data` (path, query, route, request id). Returns an error
    /// response when the target is malformed.
    std::optional<Response> prepare(RequestData& data);
    /// Runs middleware, routing and the handler; never throws. `failed` tells whether the
    /// handler (or a middleware) threw, so its tasks are dropped.
    Task<Response> handle(RequestData& data, BackgroundTasks& tasks, bool& failed);
    /// After the response of `data` was written (or failed to be): drops the tasks of a failed
    /// handler, except `always` ones, and hands the rest to the runner.
    void after_response(BackgroundTasks& tasks, bool handler_failed, const RequestData& data);
    /// Hands tasks to the runner: plain functions only go to the background pool in one item,
    /// anything else runs as a coroutine on `executor`.
    void schedule_background(BackgroundTasks::Entries entries,
                             const Executor& executor, std::string request_id,
                             const Route* route);

    /// Runs `hooks` on loop 0 and waits. Startup: in order, rethrowing the first failure.
    /// Shutdown: in reverse order, every hook, failures logged.
    void run_hooks(const std::vector<App::Hook>& hooks, bool shutdown);
    void stop_ladder();
    void start_recurring();
    void stop_recurring();
    void release_runtime();
};

Response error_response(int status, std::string_view detail);


}  // namespace afterwork::detail
