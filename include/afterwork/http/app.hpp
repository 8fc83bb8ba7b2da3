// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `App`: an HTTP service — routes, middleware, exception handlers, shared state, lifespan —
/// served on several event loops, with `BackgroundTasks` that run after each response and a
/// graceful shutdown that drains them.
///
/// @code
/// afterwork::App app;
/// app.post("/signup", [](afterwork::Request& req, afterwork::BackgroundTasks& bg)
///         -> afterwork::Task<afterwork::Response> {
///     auto body = req.json<SignupRequest>();          // 422 on bad input
///     bg.add(send_welcome_email, body.email);         // coroutine: runs on the loop
///     bg.add(log_signup, 42, body.source);            // plain function: blocking pool
///     co_return afterwork::json_response(201, {{"user_id", 42}, {"email", body.email}});
/// });
/// return app.run({.port = 8000});
/// @endcode
///
/// Handlers are coroutines returning `Task<Response>` or `Task<boost::json::value>` (200), or
/// plain functions returning `Response` or `boost::json::value`; plain ones run on the app's
/// handler pool so a blocking call cannot stall a loop. Each may take `(Request&)` or
/// `(Request&, BackgroundTasks&)`.
///
/// Errors: `HttpError` → its status with `{"detail": ...}`; `ValidationError` → 422 in
/// FastAPI's shape; handlers registered with `on_exception<E>` come first; any other exception
/// → 500 `{"detail":"Internal Server Error","request_id":...}` with the detail in the log.
/// Built-in answers: 404 unknown path, 405 wrong method (with `Allow`), 400 malformed request,
/// 413 body too large, 431 headers too large, 503 when a pool or the connection limit is full.
///
/// Shutdown (SIGTERM/SIGINT in `run`, or `request_stop`): the job worker stops claiming → stop
/// accepting and let in-flight requests finish → wait for background tasks up to
/// `drain_timeout` → cancel what still runs and log what never started as abandoned → running
/// jobs get the rest of the deadline, then are cancelled and released to the store → schedules,
/// periodic and supervised tasks stop → lifespan shutdown → exit code 0. A second signal stops
/// the waiting for requests and background tasks: they are cancelled at once.
///
/// @par Thread safety
/// Configure (routes, middleware, hooks, `state()` setup) from one thread before `start`/`run`.
/// `request_stop`, `port`, `background_stats` and `wait_background_idle` are thread-safe.
/// Handlers run concurrently on several loops: anything they share must be thread-safe.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include <afterwork/detail/unique_function.hpp>
#include <afterwork/http/app_state.hpp>
#include <afterwork/http/background_tasks.hpp>
#include <afterwork/http/errors.hpp>
#include <afterwork/http/request.hpp>
#include <afterwork/http/response.hpp>
#include <afterwork/jobs/queue.hpp>
#include <afterwork/jobs/worker.hpp>
#include <afterwork/runtime/recurring.hpp>
#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_group.hpp>
#include <afterwork/runtime/task_handle.hpp>
#include <afterwork/schedule/periodic.hpp>
#include <afterwork/schedule/scheduler.hpp>

namespace afterwork {

/// `App::cron`'s options: the time zone of the expression and the schedule's options.
struct CronOptions {
    std::string tz = "UTC";
    ScheduleOptions schedule;
};

/// Limits that protect the server from slow, large or too many clients. Exceeding one gives
/// the status in brackets, or a closed connection for the timeouts.
struct Limits {
    std::size_t max_body_bytes = 1024 * 1024;                   ///< [413]
    std::size_t max_header_bytes = 16 * 1024;                   ///< request line + headers [431]
    std::chrono::milliseconds header_timeout{10'000};           ///< first byte → end of headers
    std::chrono::milliseconds body_timeout{30'000};             ///< reading the body
    std::chrono::milliseconds idle_timeout{60'000};             ///< keep-alive wait for a request
    std::chrono::milliseconds write_timeout{30'000};            ///< writing a response
    std::size_t max_connections = 10'000;                       ///< more are answered 503
};

struct ServeOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;  ///< 0 picks a free port; `App::port()` tells which
    unsigned threads = 0;       ///< event loops; 0 = one per core
    bool listen = true;         ///< false: no socket (the TestClient drives requests)
    bool handle_signals = true; ///< from `start` on, SIGINT and SIGTERM end `wait`/`run`
    Limits limits;
    std::chrono::milliseconds drain_timeout{30'000};  ///< background tasks at shutdown
    std::size_t handler_threads = 16;      ///< pool for plain-function handlers
    std::size_t background_threads = 8;    ///< pool for plain-function background tasks
    std::size_t background_queue_limit = 100'000;  ///< queued background task lists
};

/// Start-up failed (a startup hook or the lifespan threw, or the address is taken).
class StartupError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Counters of background task lists (one per request that added tasks) and of single tasks.
struct BackgroundStats {
    std::uint64_t scheduled = 0;  ///< tasks handed to a runner after a response
    std::uint64_t succeeded = 0;
    std::uint64_t failed = 0;     ///< threw (logged with request id and route)
    std::uint64_t dropped = 0;    ///< not run: their handler threw
    std::uint64_t abandoned = 0;  ///< not run or cancelled at shutdown
    std::uint64_t pending = 0;    ///< scheduled, not yet ended
};

/// How the app's durable job queue is set up (`App::configure_jobs`).
struct AppJobsOptions {
    /// Where jobs live; null: a `MemoryStore` (jobs then do not survive a restart).
    std::shared_ptr<Store> store;
    QueueOptions queue;
    /// The in-process worker, started after startup when any job is defined.
    WorkerOptions worker;
    /// False: no in-process worker (jobs run in `afterwork worker` processes).
    bool run_worker = true;
};

class App;
namespace detail {
struct AppCore;
struct Dispatch;
Task<Response> run_sync_handler(Request& request, UniqueFunction<Response()> handler);
Response json_ok(const boost::json::value& value);
}  // namespace detail

/// Calls the rest of the middleware chain and the handler. Valid only during the middleware
/// call that received it.
class Next {
public:
    Next(detail::Dispatch& dispatch, std::size_t index) noexcept
        : dispatch_(&dispatch), index_(index) {}
    [[nodiscard]] Task<Response> operator()(Request& request) const;

private:
    detail::Dispatch* dispatch_;
    std::size_t index_;
};

class App {
public:
    using Handler = std::function<Task<Response>(Request&, BackgroundTasks&)>;
    using Middleware = std::function<Task<Response>(Request&, Next)>;
    using Hook = std::function<Task<void>(App&)>;
    using ExceptionHandler = std::function<std::optional<Response>(Request&, std::exception_ptr)>;

    App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;
    ~App();

    /// Adds a route. `pattern` is a path with `{name}` segments (a path parameter, one segment)
    /// and optionally one trailing `{name:path}` (the rest of the path). Static segments win
    /// over parameters. Throws `std::invalid_argument` for a malformed or duplicate pattern.
    template <class F>
    void route(std::string_view method, std::string_view pattern, F handler) {
        add_route(method, pattern, adapt_handler(std::move(handler)));
    }
    template <class F>
    void get(std::string_view pattern, F handler) {
        route("GET", pattern, std::move(handler));
    }
    template <class F>
    void post(std::string_view pattern, F handler) {
        route("POST", pattern, std::move(handler));
    }
    template <class F>
    void put(std::string_view pattern, F handler) {
        route("PUT", pattern, std::move(handler));
    }
    template <class F>
    void patch(std::string_view pattern, F handler) {
        route("PATCH", pattern, std::move(handler));
    }
    template <class F>
    void del(std::string_view pattern, F handler) {
        route("DELETE", pattern, std::move(handler));
    }

    /// Adds middleware around every request, outermost first: it may act before and after
    /// `next(request)`, or answer by itself without calling it. Unhandled handler exceptions
    /// pass through it (so it can count them) before they become a 500.
    void use(Middleware middleware);

    /// Answers exceptions of type `E` (and derived) escaping a handler with `handler`'s
    /// response. Checked in registration order, before the built-in handlers.
    template <class E>
    void on_exception(std::function<Response(Request&, const E&)> handler) {
        add_exception_handler(
            [handler = std::move(handler)](Request& request,
                                           std::exception_ptr error) -> std::optional<Response> {
                try {
                    std::rethrow_exception(error);
                } catch (const E& e) {
                    return handler(request, e);
                } catch (...) {
                    return std::nullopt;
                }
            });
    }

    /// Runs `hook` at startup, in the order added, on the first loop, before the app serves.
    /// An exception aborts the start (`StartupError`, `run` returns 1).
    template <class F>
    void on_startup(F hook) {
        add_startup(adapt_hook(std::move(hook)));
    }
    /// Runs `hook` at shutdown, in reverse order of adding, after background tasks drained.
    template <class F>
    void on_shutdown(F hook) {
        add_shutdown(adapt_hook(std::move(hook)));
    }
    /// One coroutine for both: the code before `co_await app.serving()` is the startup, the
    /// code after it the shutdown. Runs before the startup hooks and after the shutdown hooks.
    void lifespan(Hook lifespan);
    /// Inside the lifespan coroutine: marks startup complete and suspends until shutdown.
    [[nodiscard]] Task<void> serving();

    /// The app's shared objects, set up at startup (see app_state.hpp).
    AppState& state() noexcept;

    /// Runs `function` (a coroutine `Task<void>()` or a plain `void()`, the latter on the
    /// blocking pool) every `interval` while the app serves: started after the startup,
    /// stopped at shutdown. See `PeriodicTask` for the timing rules.
    template <class F>
    void every(std::chrono::milliseconds interval, std::string name, F function,
               PeriodicOptions options = {}) {
        add_periodic(interval, std::move(name), adapt_recurring(std::move(function)), options);
    }
    /// Runs `factory()` under a `Supervisor` while the app serves: restarted with backoff
    /// when it crashes, stopped at shutdown.
    template <class F>
    void supervise(std::string name, F factory, SupervisorOptions options = {}) {
        add_supervised(std::move(name), adapt_recurring(std::move(factory)), options);
    }
    /// Runs `function` (a coroutine `Task<void>()` or a plain `void()`, the latter on the
    /// blocking pool) whenever `trigger` fires, on the app's `Scheduler`: started after the
    /// startup, stopped at shutdown (running instances are cancelled). See `Scheduler` for
    /// misfires, coalescing and max instances. Throws `ScheduleError` (a duplicate id, a bad
    /// option). Thread-safe; schedules may be added while serving too.
    template <class F>
    void schedule(Trigger trigger, std::string name, F function, ScheduleOptions options = {}) {
        scheduler().add(std::move(name), std::move(trigger), adapt_recurring(std::move(function)),
                        std::move(options));
    }
    /// `schedule` with a cron expression in `options.tz` (default UTC):
    /// `app.cron("0 9 * * *", "daily-digest", digest, {.tz = "Asia/Kolkata"})`. Throws
    /// `ScheduleError` naming the bad field or zone.
    template <class F>
    void cron(std::string_view expression, std::string name, F function, CronOptions options = {}) {
        schedule(CronTrigger(expression, options.tz), std::move(name), std::move(function),
                 std::move(options.schedule));
    }
    /// The app's scheduler: add, remove, pause and list schedules. Created on first use with the
    /// options of `configure_scheduler` (default: system clock, no store).
    Scheduler& scheduler();
    /// Sets the clock and store of the app's scheduler; throws std::logic_error once the
    /// scheduler exists (something was scheduled or `scheduler()` was called).
    void configure_scheduler(SchedulerOptions options);

    /// The app's durable job queue: define jobs, enqueue, cancel. Created on first use with the
    /// options of `configure_jobs` (default: a `MemoryStore`). When any job is defined at
    /// start, an in-process `Worker` runs them from after the startup until shutdown, which
    /// stops it claiming at once and, after in-flight requests and background tasks, gives
    /// running jobs the rest of the drain timeout, then cancels them and releases them to the
    /// store for another worker — before the lifespan shutdown closes what they use.
    /// Thread-safe.
    Queue& jobs();
    /// Sets the store and worker options of the job queue; throws std::logic_error once the
    /// queue exists (`jobs()` was called).
    void configure_jobs(AppJobsOptions options);
    /// The in-process worker while the app serves jobs; null otherwise.
    Worker* jobs_worker() noexcept;

    /// Starts `task` as a tracked task of the app — `asyncio.create_task` for work that
    /// outlives a request (a report job a client polls): on the calling loop when called from
    /// one, else on the next loop. Shutdown waits for it like a background task, up to the
    /// drain deadline, then cancels it (reason `shutdown`) so it can clean up. Thread-safe;
    /// throws std::logic_error when the app is not serving.
    template <class T>
    [[nodiscard]] TaskHandle<T> spawn(Task<T> task, SpawnOptions options = {}) {
        return spawned_group().spawn(spawn_executor(), std::move(task), std::move(options.name));
    }

    /// Every periodic and supervised task with its state, runs, failures and next run.
    /// Thread-safe.
    std::vector<RecurringStatus> recurring_status() const;

    /// Starts the loops, runs startup and (with `options.listen`) accepts connections. Returns
    /// once serving. Throws `StartupError`.
    void start(const ServeOptions& options = {});
    /// The bound port (after `start`), useful with `port = 0`.
    std::uint16_t port() const noexcept;
    /// The options `start` received.
    const ServeOptions& options() const noexcept;
    /// Asks `run`/`wait` to shut down gracefully. Safe from any thread, handlers included.
    void request_stop() noexcept;
    /// Blocks until `request_stop` or (with `handle_signals`) SIGINT/SIGTERM, even one that
    /// arrived during startup.
    void wait();
    /// The graceful shutdown: stops the app's services in order from a task on loop 0 and
    /// blocks until done. Idempotent. Call from a plain thread, not a loop thread.
    void stop();
    /// start + wait + stop. Returns the process exit code: 0 after a clean shutdown, 1 when
    /// startup failed (the reason is logged).
    int run(const ServeOptions& options = {});

    /// Blocks until no background task is queued or running, or `timeout` passes. Call from a
    /// plain thread: the wait itself is a task on loop 0.
    bool wait_background_idle(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    BackgroundStats background_stats() const noexcept;

    detail::AppCore& core() noexcept { return *core_; }

private:
    void add_route(std::string_view method, std::string_view pattern, Handler handler);
    void add_exception_handler(ExceptionHandler handler);
    void add_startup(Hook hook);
    void add_shutdown(Hook hook);
    Executor spawn_executor();
    TaskGroup& spawned_group() noexcept;
    void add_periodic(std::chrono::milliseconds interval, std::string name,
                      RecurringFunction function, PeriodicOptions options);
    void add_supervised(std::string name, RecurringFunction factory, SupervisorOptions options);

    template <class F>
    static RecurringFunction adapt_recurring(F function) {
        if constexpr (std::is_same_v<std::invoke_result_t<F&>, Task<void>>) {
            return RecurringFunction(std::move(function));
        } else {
            static_assert(std::is_void_v<std::invoke_result_t<F&>>,
                          "a recurring function returns Task<void> or void");
            return blocking(std::function<void()>(std::move(function)));
        }
    }

    template <class F>
    static Handler adapt_handler(F handler);
    template <class F>
    static Hook adapt_hook(F hook);

    std::unique_ptr<detail::AppCore> core_;
};

namespace detail {

template <class F>
Task<Response> call_json_handler(std::shared_ptr<F> handler, Request& request,
                                 BackgroundTasks& tasks) {
    if constexpr (std::is_invocable_v<F&, Request&, BackgroundTasks&>) {
        co_return json_ok(co_await (*handler)(request, tasks));
    } else {
        co_return json_ok(co_await (*handler)(request));
    }
}

template <class F>
Task<void> call_plain_hook(std::shared_ptr<F> hook, App& app) {
    (*hook)(app);
    co_return;
}

}  // namespace detail

template <class F>
App::Handler App::adapt_handler(F handler) {
    constexpr bool with_tasks = std::is_invocable_v<F&, Request&, BackgroundTasks&>;
    static_assert(with_tasks || std::is_invocable_v<F&, Request&>,
                  "a handler takes (Request&) or (Request&, BackgroundTasks&)");
    using Result = std::conditional_t<with_tasks,
                                      std::invoke_result<F&, Request&, BackgroundTasks&>,
                                      std::invoke_result<F&, Request&>>::type;
    auto shared = std::make_shared<F>(std::move(handler));
    if constexpr (std::is_same_v<Result, Task<Response>>) {
        return [shared](Request& request, BackgroundTasks& tasks) {
            if constexpr (with_tasks) {
                return (*shared)(request, tasks);
            } else {
                return (*shared)(request);
            }
        };
    } else if constexpr (std::is_same_v<Result, Task<boost::json::value>>) {
        return [shared](Request& request, BackgroundTasks& tasks) {
            return detail::call_json_handler(shared, request, tasks);
        };
    } else {
        static_assert(std::is_convertible_v<Result, Response> ||
                          std::is_convertible_v<Result, boost::json::value>,
                      "a handler returns Task<Response>, Task<boost::json::value>, Response or "
                      "boost::json::value");
        return [shared](Request& request, BackgroundTasks& tasks) {
            // The loop's coroutine is suspended while the pool thread runs the handler, so the
            // request and the task list are never used by two threads at once.
            return detail::run_sync_handler(request, [shared, &request, &tasks]() -> Response {
                decltype(auto) result = [&]() -> decltype(auto) {
                    if constexpr (with_tasks) {
                        return (*shared)(request, tasks);
                    } else {
                        return (*shared)(request);
                    }
                }();
                if constexpr (std::is_convertible_v<Result, Response>) {
                    return Response(std::move(result));
                } else {
                    return detail::json_ok(result);
                }
            });
        };
    }
}

template <class F>
App::Hook App::adapt_hook(F hook) {
    static_assert(std::is_invocable_v<F&, App&>, "a lifespan hook takes (App&)");
    using Result = std::invoke_result_t<F&, App&>;
    if constexpr (std::is_same_v<Result, Task<void>>) {
        return Hook(std::move(hook));
    } else {
        auto shared = std::make_shared<F>(std::move(hook));
        return [shared](App& app) { return detail::call_plain_hook(shared, app); };
    }
}

}  // namespace afterwork
