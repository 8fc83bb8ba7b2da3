// SPDX-License-Identifier: MIT
#include <afterwork/schedule/scheduler.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include <boost/asio/strand.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/outcome.hpp>
#include <afterwork/runtime/task_group.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork {

namespace asio = boost::asio;
using std::chrono::milliseconds;

std::string_view to_string(ScheduleOutcome outcome) noexcept {
    switch (outcome) {
        case ScheduleOutcome::none:
            return "none";
        case ScheduleOutcome::running:
            return "running";
        case ScheduleOutcome::succeeded:
            return "succeeded";
        case ScheduleOutcome::failed:
            return "failed";
        case ScheduleOutcome::cancelled:
            return "cancelled";
        case ScheduleOutcome::missed:
            return "missed";
        case ScheduleOutcome::skipped:
            return "skipped";
    }
    return "none";
}

namespace {

// Occurrences looked at one by one when catching up; past this, the ones older than the grace
// are skipped over in one step (a one-second interval after a day down is 86,400 of them).
constexpr int kMaxCatchUp = 1000;

struct Entry {
    Entry(std::string schedule_id, Trigger schedule_trigger)
        : id(std::move(schedule_id)), trigger(std::move(schedule_trigger)) {}

    std::string id;
    std::string name;
    Trigger trigger;
    RecurringFunction function;
    milliseconds grace{0};
    milliseconds jitter{0};
    int max_instances = 1;
    bool coalesce = true;
    bool paused = false;
    bool removed = false;
    std::optional<TimePoint> next;  // nominal time of the next occurrence
    TimePoint due{};                // next + this occurrence's jitter
    std::uint64_t index_key = 0;    // 0: not in the due index
    std::optional<TimePoint> last_run;
    ScheduleOutcome outcome = ScheduleOutcome::none;
    std::optional<std::string> last_error;
    int running = 0;
    std::uint64_t runs = 0;
    std::uint64_t failures = 0;
    std::uint64_t missed = 0;
    std::uint64_t skipped = 0;
};

struct DueKey {
    TimePoint due;
    std::uint64_t key;  // insertion order breaks ties, so equal times fire in the order added
    Entry* entry;
    friend bool operator<(const DueKey& a, const DueKey& b) noexcept {
        return a.due != b.due ? a.due < b.due : a.key < b.key;
    }
};

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
        return std::hash<std::string_view>{}(text);
    }
};

milliseconds default_grace(const Trigger& trigger, TimePoint now) {
    constexpr milliseconds kMinute{60'000};
    if (const auto* interval = trigger.get_if<IntervalTrigger>()) {
        return std::min(kMinute, std::chrono::duration_cast<milliseconds>(interval->interval()));
    }
    if (trigger.get_if<CronTrigger>()) {
        auto first = trigger.next_after(now);
        auto second = first ? trigger.next_after(*first) : std::nullopt;
        if (first && second) {
            return std::min(kMinute, std::chrono::duration_cast<milliseconds>(*second - *first));
        }
    }
    return kMinute;
}

}  // namespace

struct detail::SchedulerState : std::enable_shared_from_this<detail::SchedulerState> {
    std::string name;
    std::shared_ptr<Clock> clock;
    std::shared_ptr<ScheduleStore> store;
    std::uint64_t clock_token = 0;

    mutable std::mutex mutex;  // everything below, and every Entry's fields
    std::unordered_map<std::string, std::shared_ptr<Entry>, StringHash, std::equal_to<>> schedules;
    std::set<DueKey> due;
    std::uint64_t next_key = 1;
    std::mt19937_64 random{std::random_device{}()};
    // Set when the firing loop must look again (a schedule added or changed, the clock moved,
    // a stop). The state never owns an executor (no handle of the loop is kept), so it may
    // outlive the loop's io_context: the app lists its schedules after shutdown.
    Event wake_loop;
    bool started = false;
    bool stopping = false;
    TaskGroup instances;

    // Store writes are serialised and snapshot the entries when they are written, so a fire
    // record written late can never bring back a schedule removed meanwhile.
    std::mutex store_mutex;

    TaskGroup loop;  // the firing loop, while it runs

    explicit SchedulerState(std::string scheduler_name)
        : name(std::move(scheduler_name)), instances(name + " runs"), loop(name + " loop") {}

    void index(Entry& entry) {
        if (entry.paused || entry.removed || !entry.next) return;
        TimePoint due_at = *entry.next;
        if (entry.jitter.count() > 0) {
            due_at +=
                milliseconds(std::uniform_int_distribution<long>(0, entry.jitter.count())(random));
        }
        entry.due = due_at;
        entry.index_key = next_key++;
        due.insert(DueKey{entry.due, entry.index_key, &entry});
    }

    void unindex(Entry& entry) {
        if (entry.index_key == 0) return;
        due.erase(DueKey{entry.due, entry.index_key, &entry});
        entry.index_key = 0;
    }

    ScheduleRecord record_of(const Entry& entry) const {
        return ScheduleRecord{.id = entry.id,
                              .name = entry.name,
                              .trigger = entry.trigger.to_string(),
                              .next_run = entry.paused ? std::nullopt : entry.next,
                              .last_run = entry.last_run,
                              .paused = entry.paused};
    }

    // Writes the current records of `ids` (removed ones are deleted). Called with
    // store_mutex held, state mutex not held.
    void persist_locked(const std::vector<std::string>& ids) {
        std::vector<ScheduleRecord> records;
        std::vector<std::string> gone;
        {
            std::lock_guard lock(mutex);
            for (const auto& id : ids) {
                auto found = schedules.find(id);
                if (found == schedules.end()) {
                    gone.push_back(id);
                } else {
                    records.push_back(record_of(*found->second));
                }
            }
        }
        if (!records.empty()) store->save(records);
        for (const auto& id : gone) store->remove(id);
    }

    void wake() noexcept { wake_loop.set(); }

    ScheduleInfo info_of(const Entry& entry) const {
        ScheduleInfo info;
        info.id = entry.id;
        info.name = entry.name;
        info.trigger = entry.trigger.to_string();
        info.description = entry.trigger.describe();
        info.zone = entry.trigger.zone();
        if (entry.index_key != 0) info.next_run = entry.due;
        info.last_run = entry.last_run;
        info.last_outcome = entry.outcome;
        info.last_error = entry.last_error;
        info.paused = entry.paused;
        info.running = entry.running;
        info.runs = entry.runs;
        info.failures = entry.failures;
        info.missed = entry.missed;
        info.skipped = entry.skipped;
        info.misfire_grace = entry.grace;
        return info;
    }
};

namespace {

struct Fire {
    std::shared_ptr<Entry> entry;
    RecurringFunction function;
    TimePoint occurrence;
    std::optional<TimePoint> next;           // the entry's next occurrence once this one fired
    ScheduleOutcome previous = ScheduleOutcome::none;  // the outcome before it
};



// Decides what the due `entry` does at `now` and plans its next occurrence. Called with the
// state's mutex held; the entry is out of the due index.
void process_due(detail::SchedulerState& state,
                 const std::shared_ptr<Entry>& entry,
                 TimePoint now,
                 std::vector<Fire>& fires,
                 std::vector<std::string>& finished) {
    std::vector<TimePoint> runnable;
    std::uint64_t missed = 0;
    std::optional<TimePoint> occurrence = entry->next;
    // The first occurrence starts at its jittered time; later ones are caught up at nominal.
    TimePoint start = entry->due;
    int looked_at = 0;
    while (occurrence && *occurrence <= now) {
        if (now - start > entry->grace) {
            ++missed;
        } else {
            runnable.push_back(*occurrence);
        }
        if (++looked_at >= kMaxCatchUp && now - entry->grace > *occurrence) {
            // Everything before now - grace is missed anyway: jump over it.
            occurrence = entry->trigger.next_after(now - entry->grace - TimePoint::duration(1));
            looked_at = 0;
            ++missed;
        } else {
            occurrence = entry->trigger.next_after(*occurrence);
        }
        if (occurrence) start = *occurrence;
    }
    if (entry->coalesce && runnable.size() > 1)
        runnable.erase(runnable.begin(), runnable.end() - 1);

    entry->missed += missed;
    if (missed > 0) {
        entry->outcome = ScheduleOutcome::missed;
        spdlog::warn("scheduler {}: schedule {} missed {} occurrence(s) (more than {} ms late)",
                     state.name,
                     entry->id,
                     missed,
                     entry->grace.count());
    }
    int launched = 0;
    for (TimePoint run_time : runnable) {
        entry->last_run = run_time;
        if (entry->running + launched >= entry->max_instances) {
            ++entry->skipped;
            entry->outcome = ScheduleOutcome::skipped;
            spdlog::warn(
                "scheduler {}: schedule {} skipped its run at {}: {} instance(s) already running",
                state.name,
                entry->id,
                format_iso8601(run_time),
                entry->running + launched);
            continue;
        }
        ++launched;
        fires.push_back(Fire{entry, entry->function, run_time});
    }
    entry->next = occurrence;
    if (entry->next) {
        state.index(*entry);
    } else {
        entry->removed = true;
        finished.push_back(entry->id);
    }
}

Task<void> run_instance(std::shared_ptr<detail::SchedulerState> state,
                        std::shared_ptr<Entry> entry,
                        RecurringFunction function) {
    const RunOutcome run = co_await run_guarded(function());
    const std::string message = run.failed() ? run.message() : std::string();
    {
        std::lock_guard lock(state->mutex);
        --entry->running;
        switch (run.outcome) {
            case Outcome::succeeded:
                entry->outcome = ScheduleOutcome::succeeded;
                entry->last_error.reset();
                break;
            case Outcome::cancelled:
                entry->outcome = ScheduleOutcome::cancelled;
                break;
            case Outcome::failed:
                ++entry->failures;
                entry->outcome = ScheduleOutcome::failed;
                entry->last_error = message;
                break;
        }
    }
    if (run.failed()) {
        spdlog::error("scheduler {}: schedule {} failed: {}", state->name, entry->id, message);
    }
}

// On the blocking pool: writes what ended (`finished`) and claims each occurrence; says which
// claims this scheduler won.
std::vector<bool> claim_fires(const std::shared_ptr<detail::SchedulerState>& state,
                              const std::vector<OccurrenceClaim>& claims,
                              const std::vector<std::string>& finished) {
    std::lock_guard lock(state->store_mutex);
    auto won = claims.empty() ? std::vector<bool>() : state->store->claim_occurrences(claims);
    // After the claims: a schedule that fired its last occurrence is claimed, then deleted.
    if (!finished.empty()) state->persist_locked(finished);
    return won;
}

Task<void> firing_loop(std::shared_ptr<detail::SchedulerState> state) {
    const Executor executor = co_await current_executor();
    for (;;) {
        // Cleared before looking: a wake-up from now on ends the wait below at once.
        state->wake_loop.clear();
        std::vector<Fire> fires;
        std::vector<std::string> finished;
        {
            std::lock_guard lock(state->mutex);
            if (state->stopping) break;
            const TimePoint now = state->clock->now();
            while (!state->due.empty() && state->due.begin()->due <= now) {
                Entry* raw = state->due.begin()->entry;
                state->unindex(*raw);
                auto found = state->schedules.find(raw->id);
                process_due(*state, found->second, now, fires, finished);
            }
            for (const auto& id : finished) state->schedules.erase(id);
            for (auto& fire : fires) {
                fire.next = fire.entry->next;
                fire.previous = fire.entry->outcome;
                ++fire.entry->running;
                ++fire.entry->runs;
                fire.entry->outcome = ScheduleOutcome::running;
            }
        }
        if (state->store && (!fires.empty() || !finished.empty())) {
            // Claimed before the runs start: of the schedulers sharing the store, one runs each
            // occurrence, and a crash during a run does not repeat it.
            std::vector<OccurrenceClaim> claims;
            claims.reserve(fires.size());
            for (const auto& fire : fires) {
                claims.push_back(OccurrenceClaim{fire.entry->id, fire.occurrence, fire.next});
            }
            std::vector<bool> won(fires.size(), true);
            try {
                won = co_await to_thread(claim_fires, state, std::move(claims), finished);
            } catch (const std::exception& e) {
                if (is_cancellation(std::current_exception())) throw;
                // Run them: a store that cannot be written must not stop the schedules.
                spdlog::error(
                    "scheduler {}: could not record fire times: {}", state->name, e.what());
            }
            std::vector<Fire> claimed;
            claimed.reserve(fires.size());
            std::lock_guard lock(state->mutex);
            for (std::size_t i = 0; i < fires.size(); ++i) {
                if (won[i]) {
                    claimed.push_back(std::move(fires[i]));
                    continue;
                }
                auto& entry = *fires[i].entry;
                --entry.running;
                --entry.runs;
                entry.outcome = fires[i].previous;
                spdlog::debug("scheduler {}: schedule {}'s occurrence at {} was fired by another "
                              "scheduler sharing the store",
                              state->name, entry.id, format_iso8601(fires[i].occurrence));
            }
            fires = std::move(claimed);
        }
        {
            // A stop during the store write: the runs are not started.
            std::lock_guard lock(state->mutex);
            if (state->stopping) {
                for (auto& fire : fires) {
                    --fire.entry->running;
                    fire.entry->outcome = ScheduleOutcome::cancelled;
                }
                break;
            }
        }
        for (auto& fire : fires) {
            std::string instance_name = fire.entry->name;
            state->instances.spawn(executor,
                                   run_instance(state, fire.entry, std::move(fire.function)),
                                   std::move(instance_name));
        }

        std::optional<SteadyTime::duration> wait;
        {
            std::lock_guard lock(state->mutex);
            if (state->stopping) break;
            if (!state->due.empty()) wait = state->clock->until(state->due.begin()->due);
        }
        if (wait && *wait <= SteadyTime::duration::zero()) continue;
        if (wait) {
            co_await state->wake_loop.wait_for(*state->clock, *wait);
        } else {
            co_await state->wake_loop.wait();
        }
    }
}

ScheduleError option_error(const std::string& message) {
    return ScheduleError(ScheduleErrc::invalid_option, message);
}

ScheduleError unknown_schedule(std::string_view id) {
    return ScheduleError(ScheduleErrc::unknown_schedule,
                         fmt::format("no schedule with id \"{}\"", id));
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options)
    : state_(std::make_shared<detail::SchedulerState>(std::move(options.name))) {
    state_->clock = options.clock ? std::move(options.clock) : system_clock();
    state_->store = std::move(options.store);
    state_->clock_token = state_->clock->subscribe([weak = std::weak_ptr<detail::SchedulerState>(state_)] {
        if (auto state = weak.lock()) state->wake();
    });
}

Scheduler::~Scheduler() {
    request_stop();
    state_->clock->unsubscribe(state_->clock_token);
}

ScheduleResult<void> Scheduler::insert(std::string name,
                                       Trigger trigger,
                                       RecurringFunction function,
                                       ScheduleOptions options,
                                       bool replace_existing) {
    std::string id = options.id.empty() ? name : std::move(options.id);
    if (id.empty()) return option_error("a schedule needs a name or an id");
    if (!function) return option_error(fmt::format("schedule {}: the function is empty", id));
    if (options.misfire_grace && options.misfire_grace->count() < 0) {
        return option_error(fmt::format("schedule {}: misfire_grace must not be negative", id));
    }
    if (options.jitter.count() < 0) {
        return option_error(fmt::format("schedule {}: jitter must not be negative", id));
    }
    if (options.max_instances < 1) {
        return option_error(fmt::format("schedule {}: max_instances must be at least 1", id));
    }

    std::unique_lock store_lock(state_->store_mutex, std::defer_lock);
    std::optional<ScheduleRecord> stored;
    if (state_->store) {
        store_lock.lock();
        stored = state_->store->load(id);
        if (stored && stored->trigger != trigger.to_string()) stored.reset();  // changed: afresh
    }

    const TimePoint now = state_->clock->now();
    auto next = options.first_run ? options.first_run : trigger.next_after(now);
    bool paused = options.paused;
    std::optional<TimePoint> last_run;
    if (stored) {
        paused = stored->paused;
        last_run = stored->last_run;
        // Resume where it was; an occurrence that came while the process was down is then
        // due at once and meets the misfire policy like any late run.
        if (stored->next_run) next = stored->next_run;
        if (!stored->next_run && !stored->paused && stored->last_run) {
            spdlog::info(
                "scheduler {}: schedule {} already fired its last occurrence", state_->name, id);
            return {};
        }
    }
    if (!next && !paused) {
        return ScheduleError(ScheduleErrc::invalid_trigger,
                             fmt::format("schedule {}: {} has no fire time after {}",
                                         id,
                                         trigger.to_string(),
                                         format_iso8601(now)));
    }
    const milliseconds grace = options.misfire_grace.value_or(default_grace(trigger, now));

    {
        std::lock_guard lock(state_->mutex);
        auto found = state_->schedules.find(id);
        std::shared_ptr<Entry> entry;
        if (found != state_->schedules.end()) {
            if (!replace_existing) {
                return ScheduleError(ScheduleErrc::duplicate_schedule,
                                     fmt::format("a schedule with id \"{}\" already exists", id));
            }
            entry = found->second;
            state_->unindex(*entry);
        } else {
            entry = std::make_shared<Entry>(id, trigger);
            state_->schedules.emplace(id, entry);
        }
        entry->name = std::move(name);
        entry->trigger = std::move(trigger);
        entry->function = std::move(function);
        entry->grace = grace;
        entry->jitter = options.jitter;
        entry->max_instances = options.max_instances;
        entry->coalesce = options.coalesce;
        entry->paused = paused;
        entry->next = paused ? std::nullopt : next;
        if (last_run) entry->last_run = last_run;
        state_->index(*entry);
    }
    if (state_->store) {
        try {
            state_->persist_locked({id});
        } catch (...) {
            // Nothing may change when the add fails.
            std::lock_guard lock(state_->mutex);
            if (auto found = state_->schedules.find(id); found != state_->schedules.end()) {
                state_->unindex(*found->second);
                found->second->removed = true;
                state_->schedules.erase(found);
            }
            throw;
        }
    }
    state_->wake();
    return {};
}

ScheduleResult<void> Scheduler::try_add(std::string name,
                                        Trigger trigger,
                                        RecurringFunction function,
                                        ScheduleOptions options) {
    return insert(
        std::move(name), std::move(trigger), std::move(function), std::move(options), false);
}

void Scheduler::add(std::string name,
                    Trigger trigger,
                    RecurringFunction function,
                    ScheduleOptions options) {
    try_add(std::move(name), std::move(trigger), std::move(function), std::move(options)).value();
}

void Scheduler::replace(std::string name,
                        Trigger trigger,
                        RecurringFunction function,
                        ScheduleOptions options) {
    insert(std::move(name), std::move(trigger), std::move(function), std::move(options), true)
        .value();
}

ScheduleResult<void> Scheduler::try_remove(std::string_view id) {
    std::unique_lock store_lock(state_->store_mutex, std::defer_lock);
    if (state_->store) store_lock.lock();
    {
        std::lock_guard lock(state_->mutex);
        auto found = state_->schedules.find(id);
        if (found == state_->schedules.end()) return unknown_schedule(id);
        state_->unindex(*found->second);
        found->second->removed = true;
        state_->schedules.erase(found);
    }
    if (state_->store) state_->store->remove(id);
    state_->wake();
    return {};
}

void Scheduler::remove(std::string_view id) {
    try_remove(id).value();
}

namespace {

ScheduleResult<void> set_paused(const std::shared_ptr<detail::SchedulerState>& state,
                                std::string_view id,
                                bool paused) {
    std::unique_lock store_lock(state->store_mutex, std::defer_lock);
    if (state->store) store_lock.lock();
    {
        std::lock_guard lock(state->mutex);
        auto found = state->schedules.find(id);
        if (found == state->schedules.end()) return unknown_schedule(id);
        Entry& entry = *found->second;
        if (entry.paused == paused) return {};
        entry.paused = paused;
        if (paused) {
            state->unindex(entry);
            entry.next.reset();
        } else {
            entry.next = entry.trigger.next_after(state->clock->now());
            if (!entry.next) {
                // A date trigger resumed after its time: nothing is left to run.
                entry.removed = true;
                state->schedules.erase(found);
            } else {
                state->index(entry);
            }
        }
    }
    if (state->store) state->persist_locked({std::string(id)});
    state->wake();
    return {};
}

}  // namespace

ScheduleResult<void> Scheduler::try_pause(std::string_view id) {
    return set_paused(state_, id, true);
}
void Scheduler::pause(std::string_view id) {
    try_pause(id).value();
}
ScheduleResult<void> Scheduler::try_resume(std::string_view id) {
    return set_paused(state_, id, false);
}
void Scheduler::resume(std::string_view id) {
    try_resume(id).value();
}

std::optional<ScheduleInfo> Scheduler::find(std::string_view id) const {
    std::lock_guard lock(state_->mutex);
    auto found = state_->schedules.find(id);
    if (found == state_->schedules.end()) return std::nullopt;
    return state_->info_of(*found->second);
}

std::vector<ScheduleInfo> Scheduler::schedules() const {
    std::vector<ScheduleInfo> list;
    {
        std::lock_guard lock(state_->mutex);
        list.reserve(state_->schedules.size());
        for (const auto& [id, entry] : state_->schedules) list.push_back(state_->info_of(*entry));
    }
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
        if (a.next_run.has_value() != b.next_run.has_value()) return a.next_run.has_value();
        if (a.next_run != b.next_run) return *a.next_run < *b.next_run;
        return a.id < b.id;
    });
    return list;
}

std::size_t Scheduler::size() const {
    std::lock_guard lock(state_->mutex);
    return state_->schedules.size();
}

void Scheduler::start(const Executor& executor) {
    Executor strand = asio::make_strand(executor);
    {
        std::lock_guard lock(state_->mutex);
        if (state_->started) {
            throw std::logic_error("scheduler " + state_->name + " already started");
        }
        if (state_->stopping) throw std::logic_error("scheduler " + state_->name + " was stopped");
        state_->started = true;
    }
    // In a group rather than behind a kept handle: listed and cancellable while it runs, and
    // nothing holds the strand once it has ended (the state may outlive the io_context).
    state_->loop.spawn(strand, firing_loop(state_), state_->name);
}

std::string_view Scheduler::service_name() const noexcept { return state_->name; }

Task<bool> Scheduler::stop(std::chrono::steady_clock::time_point deadline) {
    request_stop();
    // The loop's group empties when the loop ends (never started: at once). Each await is a
    // statement of its own: g++ 12 mishandles a co_await inside a condition.
    const bool loop_ended = co_await state_->loop.join_until(deadline);
    if (!loop_ended) co_return false;
    const bool runs_ended = co_await state_->instances.join_until(deadline);
    co_return runs_ended;
}

void Scheduler::request_stop() noexcept {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->stopping) return;
        state_->stopping = true;
    }
    state_->instances.close();
    state_->instances.cancel_all();
    // Ends the loop's wait; it then sees `stopping`. A loop not waiting yet sees it first.
    state_->wake();
}

bool Scheduler::wait_stopped(std::chrono::steady_clock::duration timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!state_->loop.wait_for(timeout)) return false;
    return state_->instances.wait_for(deadline - std::chrono::steady_clock::now());
}

}  // namespace afterwork
