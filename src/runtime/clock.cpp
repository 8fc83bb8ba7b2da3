// SPDX-License-Identifier: MIT
#include <afterwork/runtime/clock.hpp>

#include <algorithm>

namespace afterwork {

std::uint64_t Clock::subscribe(Listener listener) {
    std::lock_guard lock(mutex_);
    const auto token = next_token_++;
    listeners_.emplace_back(token, std::move(listener));
    return token;
}

void Clock::unsubscribe(std::uint64_t token) noexcept {
    std::lock_guard lock(mutex_);
    std::erase_if(listeners_, [&](const auto& entry) { return entry.first == token; });
}

void Clock::notify_listeners() {
    // Copied so a listener may subscribe or unsubscribe without deadlocking.
    std::vector<Listener> listeners;
    {
        std::lock_guard lock(mutex_);
        for (const auto& entry : listeners_) listeners.push_back(entry.second);
    }
    for (const auto& listener : listeners) listener();
}

SteadyTime::duration SystemClock::until(TimePoint due) const noexcept {
    constexpr SteadyTime::duration kMaxSleep = std::chrono::seconds(1);
    const auto remaining = due - now();
    if (remaining <= TimePoint::duration::zero()) return SteadyTime::duration::zero();
    return std::min<SteadyTime::duration>(
        std::chrono::duration_cast<SteadyTime::duration>(remaining), kMaxSleep);
}

std::shared_ptr<Clock> system_clock() {
    static const auto clock = std::make_shared<SystemClock>();
    return clock;
}

// The manual clock's deadlines: nothing arms a real timer; `advance` fires what came due, and
// a deadline already past when it is added fires at once (the system timers do the same).
class ManualClock::Timers final : public detail::TimerQueue {
public:
    explicit Timers(const ManualClock& clock) : clock_(clock) {}

    SteadyTime now() const noexcept override { return clock_.steady_now(); }
    void fire(SteadyTime now) noexcept { fire_due(now); }

private:
    void earliest_changed(SteadyTime deadline) override {
        const auto current = now();
        if (deadline <= current) fire_due(current);
    }

    const ManualClock& clock_;
};

ManualClock::ManualClock(TimePoint start)
    // Monotonic time starts a day in, so deadlines computed as "now minus something" stay
    // positive.
    : wall_(start), steady_(SteadyTime(std::chrono::hours(24))),
      timers_(std::make_unique<Timers>(*this)) {}

ManualClock::~ManualClock() = default;

TimePoint ManualClock::now() const noexcept {
    std::lock_guard lock(mutex_);
    return wall_;
}

SteadyTime ManualClock::steady_now() const noexcept {
    std::lock_guard lock(mutex_);
    return steady_;
}

SteadyTime::duration ManualClock::until(TimePoint due) const noexcept {
    const auto remaining = due - now();
    if (remaining <= TimePoint::duration::zero()) return SteadyTime::duration::zero();
    return std::chrono::duration_cast<SteadyTime::duration>(remaining);
}

detail::TimerQueue* ManualClock::timer_queue() noexcept { return timers_.get(); }

void ManualClock::advance(std::chrono::system_clock::duration delta) {
    {
        std::lock_guard lock(mutex_);
        wall_ += delta;
        if (delta > delta.zero()) steady_ += std::chrono::duration_cast<SteadyTime::duration>(delta);
    }
    fire_due();
}

void ManualClock::set(TimePoint instant) {
    {
        std::lock_guard lock(mutex_);
        if (instant > wall_) steady_ += std::chrono::duration_cast<SteadyTime::duration>(instant - wall_);
        wall_ = instant;
    }
    fire_due();
}

void ManualClock::fire_due() {
    timers_->fire(steady_now());
    notify_listeners();
}

std::size_t ManualClock::sleepers() const noexcept { return timers_->size(); }

}  // namespace afterwork
