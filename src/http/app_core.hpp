// SPDX-License-Identifier: MIT
#pragma once

// AppCore: everything behind `App` — routes, hooks, loops, pools, the server, the background
// task runner and the shutdown, an ordered list of services stopped from one coroutine.
// Configuration members are written before start and only read afterwards; counters are
// atomics; `mutex`/`changed` guard the lifecycle flags that the blocking calls wait for.
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

#include "http/background_runner.hpp"
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
    std::unique_ptr<Worker> jobs_worker;  // set at start, read-only until the shutdown stops it
    void start_jobs_worker();
    AppState state;
    ServeOptions options;

    // --- running ---
    std::vector<std::unique_ptr<Loop>> loops;
    std::unique_ptr<BlockingPool> handler_pool;
    std::unique_ptr<TaskGroup> lifecycle_group;  // the lifespan coroutine
    // Created before the signal watcher (which may hurry it), bound in the start.
    std::unique_ptr<Server> server;
    // Started after the startup hooks, stopped in the shutdown; read-only in between.
    std::vector<PeriodicTask> periodic_tasks;
    std::vector<Supervisor> supervisors;
    std::atomic<std::size_t> next_spawn_loop{0};
    // Background tasks and the tasks of App::spawn.
    BackgroundRunner background;
    std::atomic<std::uint64_t> request_counter{0};
    std::uint64_t request_id_seed = 0;

    // --- lifecycle, guarded by `mutex`, waited on with `changed` ---
    enum class Phase { idle, starting, serving, stopping, stopped };
    std::mutex mutex;
    std::condition_variable changed;
    Phase phase = Phase::idle;
    bool stop_requested = false;
    bool lifespan_serving = false;    // the lifespan reached `serving()`
    bool lifespan_finished = false;
    bool shutdown_started = false;    // `serving()` may return
    std::string lifespan_error;       // what the lifespan threw, if it did
    Event serving_ends;               // set with `shutdown_started`: `serving()` returns
    Event lifespan_ended;             // set with `lifespan_finished`: the shutdown's last wait
    std::shared_ptr<void> signals;    // the signal_set `wait()` listens on (loop 0)
    std::function<void()> cancel_signals;  // posts its cancellation

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
    /// Runs the startup hooks on loop 0 and waits: in order, rethrowing the first failure.
    void run_startup_hooks();
    /// The blocking `App::stop`: runs `shutdown` on loop 0, waits for it, then releases the
    /// loops and pools. Concurrent callers wait for the first one's end.
    void stop_ladder();
    /// The shutdown itself, from a task on loop 0: every service in order (lifecycle.cpp says
    /// which and why), then the shutdown hooks and the lifespan's tail.
    Task<void> shutdown(std::chrono::steady_clock::time_point deadline);
    /// A second signal: the drain of connections and background tasks stops waiting.
    void hurry() noexcept;
    void start_recurring();
    /// The scheduler, the periodic and the supervised tasks with their names for logs, in the
    /// order the shutdown stops them.
    std::vector<std::pair<Service*, std::string>> recurring_services();
    void release_runtime();
};

Response error_response(int status, std::string_view detail);


}  // namespace afterwork::detail
