// SPDX-License-Identifier: MIT
#include <afterwork/schedule/scheduler_clock.hpp>

#include <algorithm>

namespace afterwork {

std::uint64_t SchedulerClock::subscribe(Listener listener) {
    std::lock_guard lock(mutex_);
    const auto token = next_token_++;
    listeners_.emplace_back(token, std::move(listener));
    return token;
}

void SchedulerClock::unsubscribe(std::uint64_t token) noexcept {
    std::lock_guard lock(mutex_);
    std::erase_if(listeners_, [&](const auto& entry) { return entry.first == token; });
}

void SchedulerClock::notify_listeners() {
    // Copied so a listener may subscribe or unsubscribe without deadlocking.
    std::vector<Listener> listeners;
    {
        std::lock_guard lock(mutex_);
        for (const auto& entry : listeners_) listeners.push_back(entry.second);
    }
    for (const auto& listener : listeners) listener();
}

std::optional<std::chrono::steady_clock::duration> SystemSchedulerClock::sleep_hint(
    TimePoint due) const {
    // Capped, so a wall clock set forward (or a machine back from suspend) is seen within a
    // second instead of after a sleep measured on the steady clock.
    constexpr std::chrono::steady_clock::duration kMaxSleep = std::chrono::seconds(1);
    const auto remaining = due - now();
    if (remaining <= TimePoint::duration::zero())
        return std::chrono::steady_clock::duration::zero();
    return std::min<std::chrono::steady_clock::duration>(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(remaining), kMaxSleep);
}

TimePoint ManualClock::now() const {
    std::lock_guard lock(mutex_);
    return now_;
}

void ManualClock::set(TimePoint instant) {
    {
        std::lock_guard lock(mutex_);
        now_ = instant;
    }
    notify_listeners();
}

void ManualClock::advance(std::chrono::system_clock::duration delta) {
    {
        std::lock_guard lock(mutex_);
        now_ += delta;
    }
    notify_listeners();
}

std::shared_ptr<SchedulerClock> system_scheduler_clock() {
    static const auto clock = std::make_shared<SystemSchedulerClock>();
    return clock;
}

}  // namespace afterwork
