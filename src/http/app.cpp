// SPDX-License-Identifier: MIT
#include <afterwork/http/app.hpp>

#include <algorithm>
#include <charconv>
#include <random>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <afterwork/runtime/use_task.hpp>


#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <afterwork/jobs/memory_store.hpp>
#include <afterwork/runtime/offload.hpp>

#include "http/app_core.hpp"
#include "http/server.hpp"
#include "http/url_decode.hpp"

namespace afterwork {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace detail {

Response error_response(int status, std::string_view detail) {
    return json_response(status, {{"detail", detail}});
}

namespace {

// The built-in exception handlers, after the user's.
std::optional<Response> builtin_exception_response(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const HttpError& e) {
        Response response = error_response(e.status(), e.detail());
        for (const auto& [name, value] : e.headers()) response.add_header(name, value);
        return response;
    } catch (const ValidationError& e) {
        return json_response(422, e.to_json());
    } catch (const PoolOverloaded& e) {
        Response response = error_response(503, e.what());
        response.add_header("Retry-After", "1");
        return response;
    } catch (...) {
        return std::nullopt;
    }
}

bool sane_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
               c == ':';
    });
}

std::uint64_t mix(std::uint64_t x) {
    // splitmix64: consecutive counters give unrelated-looking ids.
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

Task<Response> endpoint(Dispatch* dispatch, Request& request) {
    AppCore& app = dispatch->app;
    RequestData& data = request.data();
    if (dispatch->outcome == Router::Outcome::not_found) co_return error_response(404, "Not Found");
    if (dispatch->outcome == Router::Outcome::method_not_allowed) {
        Response response = error_response(405, "Method Not Allowed");
        response.add_header("Allow", data.match.allow);
        co_return response;
    }
    std::exception_ptr error;
    try {
        co_return co_await data.match.route->handler(request, dispatch->tasks);
    } catch (...) {
        error = std::current_exception();
    }
    dispatch->handler_failed = true;
    if (is_cancellation(error)) std::rethrow_exception(error);
    for (const auto& handler : app.exception_handlers) {
        if (auto response = handler(request, error)) co_return std::move(*response);
    }
    if (auto response = builtin_exception_response(error)) co_return std::move(*response);
    std::rethrow_exception(error);
}

Task<Response> call_next(Dispatch* dispatch, std::size_t index, Request& request) {
    if (index < dispatch->app.middlewares.size()) {
        return dispatch->app.middlewares[index](request, Next(*dispatch, index + 1));
    }
    return endpoint(dispatch, request);
}

// The tasks of one answered request. Whatever it has not run when it is destroyed — dropped
// from the pool's queue or cancelled at shutdown — is counted and logged as abandoned, so no
// accepted work disappears silently.
struct BackgroundBatch {
    AppCore* app;
    BackgroundTasks::Entries entries;
    std::string request_id;
    const Route* route;  // lives as long as the app; named only in logs
    std::size_t next = 0;

    BackgroundBatch(AppCore* a, BackgroundTasks::Entries e, std::string id,
                    const Route* r)
        : app(a), entries(std::move(e)), request_id(std::move(id)), route(r) {}
    BackgroundBatch(BackgroundBatch&& other) noexcept
        : app(std::exchange(other.app, nullptr)),
          entries(std::move(other.entries)),
          request_id(std::move(other.request_id)),
          route(other.route),
          next(other.next) {}
    BackgroundBatch& operator=(BackgroundBatch&&) = delete;

    ~BackgroundBatch() {
        if (!app || next >= entries.size()) return;
        std::uint64_t left = entries.size() - next;
        app->background.abandoned.fetch_add(left, std::memory_order_relaxed);
        spdlog::warn("abandoned {} background task(s) of {} (request id {}): not run or cancelled",
                     left, route_name(), request_id);
        app->finish_background(left);
    }

    std::string route_name() const { return route->method + " " + route->pattern; }

    // Records the end of entries[next] and moves on.
    void complete(const std::exception_ptr& error) {
        if (error) {
            app->background.failed.fetch_add(1, std::memory_order_relaxed);
            spdlog::error("background task {} of {} failed (request id {}): {}", next + 1,
                          route_name(),
                          request_id, describe_exception(error));
        } else {
            app->background.succeeded.fetch_add(1, std::memory_order_relaxed);
        }
        ++next;
        app->finish_background(1);
    }

    void run_blocking() {
        std::exception_ptr error;
        try {
            entries[next].blocking();
        } catch (...) {
            error = std::current_exception();
        }
        complete(error);
    }
};

Task<void> run_background(BackgroundBatch batch) {
    while (batch.next < batch.entries.size()) {
        auto& entry = batch.entries[batch.next];
        std::exception_ptr error;
        try {
            if (entry.coroutine) {
                co_await entry.coroutine();
            } else {
                // Not cancellable: the call uses the entry, which this frame owns.
                co_await detail::offload<false>(*batch.app->background_pool,
                                                [&entry] { entry.blocking(); });
            }
        } catch (...) {
            error = std::current_exception();
        }
        // Cancelled at shutdown: the batch's destructor reports this task and the rest.
        if (is_cancellation(error)) co_return;
        batch.complete(error);
    }
}

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
    std::lock_guard lock(app->mutex);
    app->lifespan_finished = true;
    app->lifespan_error = error;
    app->changed.notify_all();
}

}  // namespace

// First signal: graceful stop. A second one: stop waiting for stragglers.
Task<void> watch_signals(AppCore* app, std::shared_ptr<asio::signal_set> signals) {
    for (;;) {
        boost::system::error_code ec;
        int signal = co_await signals->async_wait(asio::redirect_error(use_task, ec));
        if (ec) co_return;
        std::lock_guard lock(app->mutex);
        if (!app->stop_requested) {
            spdlog::info("received {}: shutting down gracefully (send it again to hurry)",
                         signal == SIGINT ? "SIGINT" : "SIGTERM");
            app->stop_requested = true;
        } else {
            spdlog::warn("second signal: not waiting any longer for requests and tasks");
            app->hurry = true;
        }
        app->changed.notify_all();
    }
}

AppCore::AppCore(App& owner) : app(owner) {
    std::random_device random;
    request_id_seed = (std::uint64_t{random()} << 32) ^ random();
    background_gate.pending = &background.pending;
    background_gate.jobs = [this]() -> Queue& {
        std::lock_guard lock(jobs_mutex);
        return jobs_locked();
    };
    spawned.on_empty([this] { notify(); });
}

AppCore::~AppCore() = default;

std::optional<Response> AppCore::prepare(RequestData& data) {
    data.app = this;
    auto target_view = data.message.target();
    std::string_view target(target_view.data(), target_view.size());
    if (target.empty() || target.front() != '/') {
        return error_response(400, "Bad Request: the target must be an absolute path");
    }
    std::size_t question = target.find('?');
    std::string_view raw_path = target.substr(0, question);
    data.query_string =
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
    if (raw_path.find('%') == std::string_view::npos) {
        data.path = raw_path;  // nothing to decode: view the target, no copy
    } else {
        auto decoded = percent_decode(raw_path, false);
        if (!decoded) {
            return error_response(400, "Bad Request: malformed percent-encoding in the path");
        }
        data.decoded_path = std::move(*decoded);
        data.path = data.decoded_path;
    }
    if (!data.query_string.empty()) {
        data.query_params = parse_query(data.query_string);
        if (!data.query_params) {
            return error_response(400, "Bad Request: malformed percent-encoding in the query");
        }
    }
    auto id = data.message.find("x-request-id");
    if (id != data.message.end() &&
        sane_request_id(std::string_view(id->value().data(), id->value().size()))) {
        data.request_id.assign(id->value().data(), id->value().size());
    } else {
        // 64 random-looking bits in base 36: at most 13 characters, no allocation.
        auto value = mix(request_id_seed + request_counter.fetch_add(1, std::memory_order_relaxed));
        char buffer[16];
        auto result = std::to_chars(buffer, buffer + sizeof buffer, value, 36);
        data.request_id.assign(buffer, result.ptr);
    }
    auto method = data.message.method_string();
    data.outcome = router.match(std::string_view(method.data(), method.size()), data.path,
                                data.match);
    return std::nullopt;
}

Task<Response> AppCore::handle(RequestData& data, BackgroundTasks& tasks, bool& failed) {
    Request request(data);
    Dispatch dispatch{*this, tasks, data.outcome};
    std::exception_ptr error;
    try {
        Response response = co_await call_next(&dispatch, 0, request);
        failed = dispatch.handler_failed;
        co_return response;
    } catch (...) {
        error = std::current_exception();
    }
    failed = true;
    if (!is_cancellation(error)) {
        spdlog::error("{} {} failed (request id {}): {}", request.method(),
                      request.route().empty() ? request.path() : request.route(),
                      data.request_id, describe_exception(error));
    }
    co_return json_response(500, {{"detail", "Internal Server Error"},
                                  {"request_id", data.request_id}});
}

void AppCore::after_response(BackgroundTasks& tasks, bool handler_failed,
                             const RequestData& data) {
    if (tasks.empty()) return;
    const auto added = tasks.size();
    auto entries = tasks.release(handler_failed);
    if (entries.size() < added) {
        background.dropped.fetch_add(added - entries.size(), std::memory_order_relaxed);
    }
    if (entries.empty()) return;
    // Only a matched route's handler can add tasks.
    schedule_background(std::move(entries), data.executor, data.request_id, data.match.route);
}

void AppCore::schedule_background(BackgroundTasks::Entries entries,
                                  const Executor& executor, std::string request_id,
                                  const Route* route) {
    if (entries.empty()) return;
    const auto count = entries.size();
    background.scheduled.fetch_add(count, std::memory_order_relaxed);
    background.pending.fetch_add(count, std::memory_order_relaxed);
    bool all_blocking = std::all_of(entries.begin(), entries.end(),
                                    [](const auto& entry) { return !entry.coroutine; });
    BackgroundBatch batch(this, std::move(entries), std::move(request_id), route);
    if (all_blocking) {
        // Plain functions only: one trip to the pool runs them all in order, with no hop back
        // to the loop between them.
        BlockingPool::Work work = [batch = std::move(batch)]() mutable {
            while (batch.next < batch.entries.size()) batch.run_blocking();
        };
        if (!background_pool->try_submit(work)) {
            spdlog::error("background pool refused {} task(s): its queue is full or closed",
                          count);
        }
        return;  // a refused `work` is destroyed here and its batch reports the abandon
    }
    try {
        background_group->spawn(executor, run_background(std::move(batch)), "background");
    } catch (const std::exception& e) {
        spdlog::error("cannot start background tasks: {}", e.what());
    }
}

void AppCore::run_hooks(const std::vector<App::Hook>& hooks, bool shutdown) {
    if (hooks.empty()) return;
    std::vector<App::Hook> ordered = hooks;
    if (shutdown) std::reverse(ordered.begin(), ordered.end());
    auto failure =
        afterwork::spawn(loops.front()->executor(), run_hook_list(this, std::move(ordered), shutdown))
            .get();
    if (!failure.empty()) throw std::runtime_error(failure);
}


void AppCore::start_recurring() {
    {
        std::lock_guard lock(scheduler_mutex);
        scheduler_locked().start(loops.front()->executor());
    }
    for (std::size_t i = 0; i < recurring_specs.size(); ++i) {
        auto& spec = recurring_specs[i];
        // Spread them over the loops; each stays on its loop.
        const auto& executor = loops[i % loops.size()]->executor();
        if (spec.supervised) {
            supervisors.emplace_back(executor, spec.name, spec.function, spec.supervisor);
        } else {
            periodic_tasks.emplace_back(executor, spec.name, spec.interval, spec.function,
                                        spec.periodic);
        }
    }
}

void AppCore::stop_recurring() {
    Scheduler* schedules = nullptr;
    {
        std::lock_guard lock(scheduler_mutex);
        schedules = scheduler.get();
    }
    if (schedules) schedules->stop();
    for (auto& task : periodic_tasks) task.stop();
    for (auto& supervisor : supervisors) supervisor.stop();
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    for (auto& task : periodic_tasks) {
        if (!task.wait_stopped(deadline - Clock::now())) {
            spdlog::warn("periodic task {} did not stop in time", task.status().name);
        }
    }
    for (auto& supervisor : supervisors) {
        if (!supervisor.wait_stopped(deadline - Clock::now())) {
            spdlog::warn("supervised task {} did not stop in time", supervisor.status().name);
        }
    }
    if (schedules && !schedules->wait_stopped(deadline - Clock::now())) {
        spdlog::warn("schedules did not stop in time");
    }
}

Queue& AppCore::jobs_locked() {
    if (!jobs) {
        auto options = jobs_options.value_or(AppJobsOptions{});
        auto store = options.store ? options.store : std::make_shared<MemoryStore>();
        jobs = std::make_unique<Queue>(std::move(store), std::move(options.queue));
    }
    return *jobs;
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

void AppCore::stop_jobs_worker(Clock::time_point deadline) {
    if (!jobs_worker) return;
    const auto grace = std::max(Clock::duration::zero(), deadline - Clock::now());
    if (!jobs_worker->stop(grace)) {
        spdlog::warn("job worker {} did not stop in time", jobs_worker->id());
    }
}

void AppCore::release_runtime() {
    // The worker's tasks run on the loops: it goes while they still run.
    jobs_worker.reset();
    for (auto& loop : loops) loop->stop();
    for (auto& loop : loops) loop->join();
    // Pools first: their last completions post to stopped loops, which still exist. Then the
    // loops, whose destruction frees suspended coroutines that may still refer to the server.
    handler_pool.reset();
    background_pool.reset();
    // I/O objects must go before their io_context; those owned by suspended coroutines go
    // with the loop's destruction itself.
    if (server) server->drop_listener();
    periodic_tasks.clear();
    supervisors.clear();
    cancel_signals = nullptr;
    signals.reset();
    loops.clear();
    server.reset();
    background_group.reset();
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
    const auto started = Clock::now();
    const auto deadline = started + options.drain_timeout;
    spdlog::info("shutting down: finishing requests and background tasks (drain timeout {} ms)",
                 options.drain_timeout.count());

    // 1. Stop intake; in-flight requests finish, idle keep-alive connections close. The job
    //    worker stops claiming too: jobs are durable, another worker (or the next start) takes
    //    them.
    if (jobs_worker) jobs_worker->request_stop();
    if (server) {
        server->stop_accepting();
        if (!wait_until(deadline, [&] { return server->connections() == 0; })) {
            spdlog::warn("closing {} connection(s) still busy after the drain timeout",
                         server->connections());
            server->cancel_connections();
            wait_until(Clock::now() + std::chrono::seconds(5),
                       [&] { return server->connections() == 0; });
        }
    }

    // 2. Background tasks and tracked tasks get what is left of the deadline, then are
    //    cancelled (they see it and clean up) or, not started yet, abandoned.
    background_group->close();
    auto no_pending = [&] {
        return background.pending.load() == 0 && spawned.size() == 0;
    };
    if (!wait_until(deadline, no_pending)) {
        spdlog::warn(
            "{} background task(s) and {} tracked task(s) still running after the drain "
            "timeout: cancelling",
            background.pending.load(), spawned.size());
        background_group->cancel_all();
        spawned.cancel_all(CancelReason::shutdown);
        background_pool->drop_pending();
        {
            std::lock_guard lock(mutex);
            hurry = false;  // the cancellations deserve their short wait even after a 2nd signal
        }
        wait_until(Clock::now() + std::chrono::seconds(5), no_pending);
    }

    if (cancel_signals) cancel_signals();

    // Running durable jobs get what is left of the deadline, then are cancelled and their
    // leases released so another worker takes them at once (attempt not counted) — before the
    // lifespan shutdown closes what they use.
    stop_jobs_worker(deadline);

    // Periodic and supervised tasks stop before the shutdown hooks close what they use.
    stop_recurring();

    // 3. Lifespan shutdown: hooks in reverse order, then the lifespan coroutine's tail.
    run_hooks(shutdown_hooks, true);
    if (lifespan) {
        asio::post(loops.front()->executor(), [this] {
            std::lock_guard lock(mutex);
            shutdown_started = true;
            if (serving_timer) static_cast<asio::steady_timer*>(serving_timer)->cancel();
        });
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return lifespan_finished; });
        if (!lifespan_error.empty()) spdlog::error("lifespan shutdown failed: {}", lifespan_error);
    }
    state.thaw();
    release_runtime();
    spdlog::info("shutdown complete in {} ms",
                 std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started)
                     .count());
    std::lock_guard lock(mutex);
    phase = Phase::stopped;
    changed.notify_all();
}

Task<Response> run_sync_handler(Request& request, UniqueFunction<Response()> handler) {
    // Not cancellable: the handler uses the request, which the awaiting frame owns.
    co_return co_await offload<false>(*request.data().app->handler_pool, std::move(handler));
}

}  // namespace detail

Task<Response> Next::operator()(Request& request) const {
    return detail::call_next(dispatch_, index_, request);
}

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

TaskGroup& App::spawned_group() noexcept { return core_->spawned; }

AppState& App::state() noexcept { return core_->state; }

Task<void> App::serving() {
    auto& core = *core_;
    asio::steady_timer timer(co_await current_executor(),
                             asio::steady_timer::time_point::max());
    {
        std::lock_guard lock(core.mutex);
        if (core.lifespan_serving) throw std::logic_error("app.serving() awaited twice");
        core.lifespan_serving = true;
        core.serving_timer = &timer;
        core.changed.notify_all();
    }
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(use_task, ignored));
    std::lock_guard lock(core.mutex);
    core.serving_timer = nullptr;
    if (!core.shutdown_started) {
        throw boost::system::system_error(asio::error::operation_aborted, "serving() cancelled");
    }
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
    // The gate refuses new tasks at the limit, so the pool's queue (one item per request)
    // never fills before it.
    core.background_gate.limit = options.background_queue_limit;
    core.background_pool = std::make_unique<BlockingPool>(BlockingPoolOptions{
        "background", options.background_threads, options.background_queue_limit + 1});
    core.background_group = std::make_unique<TaskGroup>("background");
    core.lifecycle_group = std::make_unique<TaskGroup>("lifespan");
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
        if (options.listen) {
            core.server = std::make_unique<detail::Server>(core);
            core.server->bind(options.host, options.port);
        }
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
        core.run_hooks(core.startup_hooks, false);
        core.start_recurring();
        core.start_jobs_worker();
    } catch (...) {
        failure = describe_exception(std::current_exception());
    }
    if (!failure.empty()) {
        // Let a lifespan that reached serving() clean up what it opened.
        if (core.lifespan_serving && !core.lifespan_finished) {
            asio::post(core.loops.front()->executor(), [&core] {
                std::lock_guard lock(core.mutex);
                core.shutdown_started = true;
                if (core.serving_timer) {
                    static_cast<asio::steady_timer*>(core.serving_timer)->cancel();
                }
            });
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
    std::unique_lock lock(core.mutex);
    return core.wait_for_change(lock, Clock::now() + timeout,
                                [&] { return core.background.pending.load() == 0; });
}

BackgroundStats App::background_stats() const noexcept {
    const auto& counters = core_->background;
    return {counters.scheduled.load(), counters.succeeded.load(), counters.failed.load(),
            counters.dropped.load(),   counters.abandoned.load(), counters.pending.load()};
}

}  // namespace afterwork
